"""Rendering scenes to anti-aliased RGB frames (vectorised over frames and pixels).

Every frame pixel is mapped back to the world through the inverse camera; the background and each
object's coverage are evaluated there, so content that comes into view exists.
"""

from __future__ import annotations

import numpy as np

from lamp_core.synthetic.motions import MOTIONS
from lamp_core.synthetic.scene import (
    BACKGROUND_COLORS,
    OBJECT_COLORS,
    Scene,
    coverage,
    sample_scene,
    signed_distance,
)

# Each output pixel averages SUPERSAMPLE x SUPERSAMPLE sub-pixels, each itself anti-aliased from the signed
# distance: accurate coverage at polygon corners too, where a distance bound alone is only approximate.
SUPERSAMPLE = 3
_BLOB_POWER = 2.0  # the texture blend is raised to this power: blobs, not stripes


def _check_size(n_frames: int, width: int, height: int) -> None:
    if n_frames < 1:
        raise ValueError(f"n_frames must be at least 1, got {n_frames}")
    if width < 1 or height < 1:
        raise ValueError(f"frames must be at least 1x1 pixels, got {width}x{height}")


def _world_grid(
    scene: Scene, times: np.ndarray, width: int, height: int, s: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """World coordinates `(T, H*s, W*s)` x and y of the sub-pixel centres, and world px per canvas px (T,)."""
    xs = (np.arange(width * s) + 0.5) * (scene.width / (width * s)) - scene.width / 2.0
    ys = (np.arange(height * s) + 0.5) * (scene.height / (height * s)) - scene.height / 2.0
    inverse = np.linalg.inv(scene.camera(times)).astype(np.float32)  # (T, 2, 2)
    xs, ys = xs.astype(np.float32), ys.astype(np.float32)
    wx = inverse[:, 0, 0, None, None] * xs[None, None, :] + inverse[:, 0, 1, None, None] * ys[None, :, None]
    wy = inverse[:, 1, 0, None, None] * xs[None, None, :] + inverse[:, 1, 1, None, None] * ys[None, :, None]
    scale = np.sqrt(np.abs(np.linalg.det(inverse)))
    return wx + np.float32(scene.width / 2.0), wy + np.float32(scene.height / 2.0), scale


def render_masks(scene: Scene, n_frames: int, width: int, height: int, start: int = 0) -> np.ndarray:
    """Anti-aliased coverage of each object, float32 `(n_frames, n_objects, height, width)` in [0, 1].

    Frame t shows the scene at time `start + t`. A canvas other than the scene's own is scaled to fit.
    """
    _check_size(n_frames, width, height)
    s = SUPERSAMPLE
    times = np.arange(start, start + n_frames, dtype=np.float64)
    wx, wy, scale = _world_grid(scene, times, width, height, s)
    # Signed distances in world pixels become sub-pixels of the output through this factor.
    sub_pixel = np.sqrt(scene.width * scene.height / (width * height * s * s))
    per_distance = (1.0 / (scale * sub_pixel)).astype(np.float32)[:, None, None]
    centres = scene.positions(times).astype(np.float32)  # (T, N, 2)
    masks = np.empty((n_frames, len(scene.objects), height, width), dtype=np.float32)
    for i, obj in enumerate(scene.objects):
        dx = wx - centres[:, i, 0, None, None]
        dy = wy - centres[:, i, 1, None, None]
        sub = coverage(signed_distance(obj.shape, dx, dy, obj.radius) * per_distance)
        masks[:, i] = sub.reshape(n_frames, height, s, width, s).mean(axis=(2, 4))
    return masks


def render_background(scene: Scene, width: int, height: int, n_frames: int = 1, start: int = 0) -> np.ndarray:
    """The background as the camera sees it, float32 `(n_frames, height, width, 3)` in [0, 255].

    For slides and orbits (static camera) every frame is the same.
    """
    _check_size(n_frames, width, height)
    times = np.arange(start, start + n_frames, dtype=np.float64)
    wx, wy, _ = _world_grid(scene, times, width, height, 1)
    blend = np.zeros_like(wx)
    for fx, fy, phase, amplitude in scene.waves:
        angle = np.float32(2.0 * np.pi) * (np.float32(fx) * wx + np.float32(fy) * wy) + np.float32(phase)
        blend += np.float32(amplitude / 2.0) * (1.0 + np.sin(angle))
    # Squared: blobs of the texture colour where the waves agree, the base colour over most of the frame.
    blend = blend**_BLOB_POWER / np.float32(max(sum(w[3] for w in scene.waves), 1e-6)) ** (_BLOB_POWER - 1)
    base = np.asarray(BACKGROUND_COLORS[scene.background], dtype=np.float32)
    second = np.asarray(BACKGROUND_COLORS[scene.texture], dtype=np.float32)
    brightness = 1.0 + np.float32(scene.gradient) * (2.0 * wy / np.float32(scene.height) - 1.0)
    color = base + blend[..., None] * (second - base)
    return np.clip(brightness[..., None] * color, 0.0, 255.0)


def render_clip(scene: Scene, n_frames: int, width: int, height: int, start: int = 0) -> np.ndarray:
    """RGB frames of the scene, uint8 `(n_frames, height, width, 3)`; frame t is time `start + t`.

    `render_clip(scene, n, w, h)[0]` is the clip's first frame and the rest its ground-truth continuation.
    Objects are drawn in caption order, later ones on top.
    """
    frames = render_background(scene, width, height, n_frames, start)
    masks = render_masks(scene, n_frames, width, height, start)
    for i, obj in enumerate(scene.objects):
        alpha = masks[:, i, :, :, None]
        frames = frames * (1.0 - alpha) + np.asarray(OBJECT_COLORS[obj.color], dtype=np.float32) * alpha
    return np.rint(frames).astype(np.uint8)


def sample_image(rng: np.random.Generator, width: int, height: int) -> tuple[np.ndarray, str]:
    """A random captioned still, uint8 `(height, width, 3)`, for pre-training the base image model.

    A frame of a random motion's scene at a random time among the frames its caption describes
    (`Scene.caption_frames`): the distribution of the first frames the video model starts from.
    """
    motion = MOTIONS[rng.integers(len(MOTIONS))]
    scene = sample_scene(motion, rng, width, height)
    t = int(rng.integers(scene.caption_frames))
    return render_clip(scene, 1, width, height, start=t)[0], scene.caption
