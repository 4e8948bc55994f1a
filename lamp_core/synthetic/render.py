"""Rendering scenes to anti-aliased RGB frames (vectorised over frames and pixels)."""

from __future__ import annotations

import numpy as np

from lamp_core.synthetic.motions import MOTIONS, VIEW_FRAMES
from lamp_core.synthetic.palette import BACKGROUND_COLORS, OBJECT_COLORS
from lamp_core.synthetic.scene import Scene, sample_scene
from lamp_core.synthetic.shapes import coverage, signed_distance


def _check_size(n_frames: int, width: int, height: int) -> None:
    if n_frames < 1:
        raise ValueError(f"n_frames must be at least 1, got {n_frames}")
    if width < 1 or height < 1:
        raise ValueError(f"frames must be at least 1x1 pixels, got {width}x{height}")


# Each output pixel averages SUPERSAMPLE x SUPERSAMPLE sub-pixels, each itself anti-aliased from the signed
# distance: accurate coverage at polygon corners too, where a distance bound alone is only approximate.
SUPERSAMPLE = 3


def render_masks(scene: Scene, n_frames: int, width: int, height: int, start: int = 0) -> np.ndarray:
    """Anti-aliased coverage of the shape, float32 `(n_frames, height, width)` in [0, 1].

    Frame t shows the scene at time `start + t`. A canvas other than the scene's own is scaled to fit.
    """
    _check_size(n_frames, width, height)
    s = SUPERSAMPLE
    scale_x, scale_y = scene.width / (width * s), scene.height / (height * s)  # scene px per sub-pixel
    centres = scene.positions(np.arange(start, start + n_frames, dtype=np.float64)).astype(np.float32)
    xs = ((np.arange(width * s) + 0.5) * scale_x).astype(np.float32)
    ys = ((np.arange(height * s) + 0.5) * scale_y).astype(np.float32)
    dx = xs[None, None, :] - centres[:, 0, None, None]
    dy = ys[None, :, None] - centres[:, 1, None, None]
    distance = signed_distance(scene.shape, dx, dy, scene.radius)
    sub = coverage(distance / np.float32(np.sqrt(scale_x * scale_y)))  # (T, H*s, W*s)
    return sub.reshape(n_frames, height, s, width, s).mean(axis=(2, 4))


def render_background(scene: Scene, width: int, height: int) -> np.ndarray:
    """The scene's static background, float32 `(height, width, 3)` in [0, 255]."""
    rows = (np.arange(height, dtype=np.float32) + 0.5) / height  # 0..1 from top to bottom
    brightness = 1.0 + scene.gradient * (2.0 * rows - 1.0)
    base = np.asarray(BACKGROUND_COLORS[scene.background], dtype=np.float32)
    column = np.clip(brightness[:, None] * base[None, :], 0.0, 255.0)  # (H, 3)
    return np.broadcast_to(column[:, None, :], (height, width, 3)).astype(np.float32)


def render_clip(scene: Scene, n_frames: int, width: int, height: int, start: int = 0) -> np.ndarray:
    """RGB frames of the scene, uint8 `(n_frames, height, width, 3)`; frame t is time `start + t`.

    `render_clip(scene, n, w, h)[0]` is the clip's first frame and the rest its ground-truth continuation.
    """
    alpha = render_masks(scene, n_frames, width, height, start)[..., None]  # (T, H, W, 1)
    background = render_background(scene, width, height)[None]
    color = np.asarray(OBJECT_COLORS[scene.color], dtype=np.float32)
    frames = background * (1.0 - alpha) + color * alpha
    return np.rint(frames).astype(np.uint8)


def sample_image(rng: np.random.Generator, width: int, height: int) -> tuple[np.ndarray, str]:
    """A random captioned still, uint8 `(height, width, 3)`, for pre-training the base image model.

    A frame at a random time of a random motion's scene: the same distribution as the first frames the
    video model starts from.
    """
    motion = MOTIONS[rng.integers(len(MOTIONS))]
    scene = sample_scene(motion, rng, width, height)
    t = int(rng.integers(VIEW_FRAMES))
    return render_clip(scene, 1, width, height, start=t)[0], scene.caption
