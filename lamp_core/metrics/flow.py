"""Dense optical flow between consecutive frames (OpenCV's Farneback), tuned for tiny videos.

Flow vectors are in pixels per frame in image coordinates: +x is right, +y is down.
The defaults were checked on constructed 32x32 and 64x64 videos (tests/metrics): a disc or a texture
translating by 1-3 px/frame is recovered to within 0.15 px/frame (median speed) and 3 degrees (direction).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from lamp_core.metrics.validation import check_video

# ITU-R BT.601 luma weights, as OpenCV's RGB2GRAY uses.
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


@dataclass(frozen=True)
class FlowSettings:
    """Farneback parameters and the thresholds that turn a flow field into motion statistics."""

    pyr_scale: float = 0.5
    levels: int = 3
    winsize: int = 15
    iterations: int = 5
    poly_n: int = 5
    poly_sigma: float = 1.1
    min_magnitude: float = 0.25
    """px/frame; slower pixels count as static (Farneback reports up to ~0.2 on static noise)."""
    max_magnitude: float = 8.0
    """px/frame; the top of the magnitude histogram (faster pixels fall in its last bin)."""
    direction_bins: int = 16
    magnitude_bins: int = 16

    def __post_init__(self) -> None:
        if not 0 <= self.min_magnitude < self.max_magnitude:
            raise ValueError(
                f"need 0 <= min_magnitude < max_magnitude, got {self.min_magnitude} and {self.max_magnitude}"
            )
        if min(self.direction_bins, self.magnitude_bins) < 2:
            raise ValueError("direction_bins and magnitude_bins must be at least 2")
        if self.levels < 1 or self.iterations < 1 or self.winsize < 3 or not 0 < self.pyr_scale < 1:
            raise ValueError("Farneback needs levels >= 1, iterations >= 1, winsize >= 3, 0 < pyr_scale < 1")


def grayscale(video: np.ndarray) -> np.ndarray:
    """Luma of RGB frames (T, H, W, 3) uint8 -> (T, H, W) uint8."""
    return np.rint(video.astype(np.float32) @ _LUMA).clip(0, 255).astype(np.uint8)


def optical_flow(
    video: np.ndarray, settings: FlowSettings | None = None, *, reverse: bool = False
) -> np.ndarray:
    """Dense flow between consecutive frames of `video` (T, H, W, 3) uint8 -> (T-1, H, W, 2) float32.

    Forward (default): pair t holds the displacement of each pixel of frame t into frame t+1.
    With `reverse=True`: pair t holds, for each pixel of frame t+1, its displacement back into frame t
    (what is needed to warp frame t onto frame t+1).
    """
    settings = settings or FlowSettings()
    video = check_video(video, min_frames=2)
    gray = grayscale(video)
    sources, targets = (gray[1:], gray[:-1]) if reverse else (gray[:-1], gray[1:])
    flow = np.zeros((*sources.shape, 2), dtype=np.float32)
    # Identical frames have zero flow by definition; Farneback would report small spurious vectors.
    moving_pairs = np.flatnonzero(np.any(sources != targets, axis=(1, 2)))
    # OpenCV computes one frame pair per call; the per-pair cost is in C (about 1 ms at 64x64).
    for pair in moving_pairs:
        flow[pair] = cv2.calcOpticalFlowFarneback(
            sources[pair],
            targets[pair],
            None,
            settings.pyr_scale,
            settings.levels,
            settings.winsize,
            settings.iterations,
            settings.poly_n,
            settings.poly_sigma,
            cv2.OPTFLOW_FARNEBACK_GAUSSIAN,
        )
    return flow
