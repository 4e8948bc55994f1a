"""Videos with known motion, built in numpy, for the metric tests (uint8 (T, H, W, 3) RGB)."""

from __future__ import annotations

import cv2
import numpy as np

BACKGROUND = (20, 30, 40)
DISC_COLOUR = (230, 60, 60)


def smooth_texture(size: int, seed: int = 0, low: int = 50, high: int = 200) -> np.ndarray:
    """A smooth random RGB texture (size, size, 3) in [low, high], leaving room for brightness changes."""
    rng = np.random.default_rng(seed)
    coarse = rng.random((size // 4, size // 4, 3)).astype(np.float32)
    texture = cv2.GaussianBlur(cv2.resize(coarse, (size, size), interpolation=cv2.INTER_CUBIC), (0, 0), 1.0)
    texture = (texture - texture.min()) / (texture.max() - texture.min())
    return np.rint(low + texture * (high - low)).astype(np.uint8)


def translating_texture(size: int, k: int, n_frames: int = 8, axis: int = 1, seed: int = 0) -> np.ndarray:
    """A texture shifting by k px per frame with wrap-around: axis 1 = right (k > 0), axis 0 = down."""
    texture = smooth_texture(size, seed)
    return np.stack([np.roll(texture, k * t, axis=axis) for t in range(n_frames)])


def moving_disc(size: int, k: float, n_frames: int = 8, angle_deg: float = 0.0) -> np.ndarray:
    """A disc of radius size/6 moving k px per frame along angle_deg (image coordinates, 90 = down),
    centred on the frame half-way through the video."""
    angle = np.deg2rad(angle_deg)
    step = k * np.array([np.cos(angle), np.sin(angle)])
    t = np.arange(n_frames)[:, None, None]
    centre_x = size / 2 + (t - (n_frames - 1) / 2) * step[0]
    centre_y = size / 2 + (t - (n_frames - 1) / 2) * step[1]
    ys, xs = np.mgrid[0:size, 0:size]
    inside = (xs - centre_x) ** 2 + (ys - centre_y) ** 2 <= (size / 6) ** 2
    video = np.empty((n_frames, size, size, 3), dtype=np.uint8)
    video[:] = BACKGROUND
    video[inside] = DISC_COLOUR
    return video


def still_video(size: int, n_frames: int = 8) -> np.ndarray:
    """The same textured frame repeated."""
    return np.repeat(smooth_texture(size)[None], n_frames, axis=0)


def flickering_video(size: int, n_frames: int = 8, amplitude: int = 40) -> np.ndarray:
    """A still texture whose brightness alternates by +-amplitude every frame (no clipping)."""
    signs = np.where(np.arange(n_frames) % 2 == 0, -1, 1)[:, None, None, None]
    return (still_video(size, n_frames).astype(np.int16) + signs * amplitude).astype(np.uint8)
