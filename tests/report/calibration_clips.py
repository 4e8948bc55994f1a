"""Synthetic calibration clips with known global motion, built in numpy/cv2 (uint8 (T, H, W, 3) RGB).

Camera motions warp a smooth random texture by a known similarity about the frame centre per frame;
translations move an antialiased disc over a static textured background. Angles are in image coordinates
(0 = right, 90 = down); a positive roll turns the content clockwise on screen.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

CANVAS = 4
"""The texture canvas is CANVAS times the frame side, so that zooms out and rolls never see its edge."""


def texture(size: int, rng: np.random.Generator, canvas: int = CANVAS) -> np.ndarray:
    """A smooth random RGB texture (canvas * size)² in [40, 215], with features of about size / 8 px."""
    side = canvas * size
    coarse = rng.random((side // 4, side // 4, 3)).astype(np.float32)
    smooth = cv2.GaussianBlur(cv2.resize(coarse, (side, side), interpolation=cv2.INTER_CUBIC), (0, 0), 1.0)
    smooth = (smooth - smooth.min()) / (smooth.max() - smooth.min())
    return np.rint(40 + smooth * 175).astype(np.uint8)


def camera_clip(
    size: int, n_frames: int, rng: np.random.Generator, zoom: float = 0.0, roll_deg: float = 0.0
) -> np.ndarray:
    """The camera zooming by (1 + zoom) and rolling by roll_deg (clockwise > 0) per frame about the centre."""
    source = texture(size, rng)
    source_centre = (source.shape[1] - 1) / 2.0
    centre = (size - 1) / 2.0
    frames = []
    for t in range(n_frames):
        scale = (1.0 + zoom) ** t
        angle = math.radians(roll_deg * t)
        # Output pixel p shows source point cs + R(-angle) (p - c) / scale (R turns clockwise for y down).
        cos, sin = math.cos(angle) / scale, math.sin(angle) / scale
        inverse = np.array([[cos, sin, 0.0], [-sin, cos, 0.0]])
        inverse[:, 2] = source_centre - inverse[:, :2] @ np.array([centre, centre])
        frames.append(
            cv2.warpAffine(source, inverse, (size, size), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)
        )
    return np.stack(frames)


def disc_clip(
    size: int,
    n_frames: int,
    rng: np.random.Generator,
    speed: float,
    angle_deg: float,
    render_size: int | None = None,
) -> np.ndarray:
    """A disc moving `speed` (fraction of the frame side) per frame along angle_deg over a still texture.

    Rendered at `render_size` (default 4 * size, for antialiasing) and downscaled to `size` by area.
    """
    render = render_size or 4 * size
    background = texture(render, rng, canvas=1).astype(np.float32)
    colour = np.array(rng.choice([(230, 40, 40), (40, 220, 60), (250, 240, 40), (30, 40, 230)]), np.float32)
    angle = math.radians(angle_deg)
    step = speed * render * np.array([math.cos(angle), math.sin(angle)])
    radius = render / 6.0
    ys, xs = np.mgrid[0:render, 0:render].astype(np.float32)
    frames = []
    for t in range(n_frames):
        centre = render / 2.0 + (t - (n_frames - 1) / 2.0) * step
        distance = np.hypot(xs - centre[0], ys - centre[1])
        cover = np.clip(radius + 0.5 - distance, 0.0, 1.0)[..., None]
        frame = background * (1.0 - cover) + colour * cover
        frames.append(cv2.resize(frame, (size, size), interpolation=cv2.INTER_AREA))
    return np.rint(np.stack(frames)).clip(0, 255).astype(np.uint8)


def still_clip(size: int, n_frames: int, rng: np.random.Generator) -> np.ndarray:
    """One textured frame repeated."""
    return np.repeat(camera_clip(size, 1, rng), n_frames, axis=0)


def noise_clip(size: int, n_frames: int, rng: np.random.Generator) -> np.ndarray:
    """Every frame an unrelated smooth random texture: flicker with no motion in it."""
    return np.stack([texture(size, rng, canvas=1) for _ in range(n_frames)])


def brightness_flicker_clip(size: int, n_frames: int, rng: np.random.Generator) -> np.ndarray:
    """A still texture whose brightness jumps at random by up to +-35 every frame."""
    still = still_clip(size, n_frames, rng).astype(np.int16)
    offsets = rng.integers(-35, 36, n_frames)[:, None, None, None]
    return (still + offsets).clip(0, 255).astype(np.uint8)
