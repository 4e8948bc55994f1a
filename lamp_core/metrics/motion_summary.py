"""A video's motion in a few numbers and two histograms, computed from its optical flow.

Directions are angles in degrees in image coordinates: 0 = right, 90 = down, 180 = left, 270 = up.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from lamp_core.metrics.flow import FlowSettings, optical_flow


@dataclass(frozen=True)
class MotionSummary:
    """Motion statistics of one video; "moving" pixels are those with flow >= `min_magnitude`."""

    mean_displacement: tuple[float, float]
    """(dx, dy) px/frame: mean flow vector over moving pixels of all frame pairs; (0, 0) if none move."""
    direction_deg: float | None
    """Angle of `mean_displacement` in [0, 360); None when no pixel moves."""
    speed: float
    """px/frame: median flow magnitude over moving pixels (robust to the flow's halo at object edges)."""
    mean_magnitude: float
    """px/frame: mean flow magnitude over all pixels and frame pairs."""
    moving_fraction: float
    """Fraction of (pixel, frame pair) samples that move, in [0, 1]."""
    coherence: float
    """|mean flow| / mean |flow| over moving pixels, in [0, 1]: 1 = all move alike (translation)."""
    direction_histogram: np.ndarray
    """(direction_bins,) magnitude-weighted directions of moving pixels, summing to 1 (all zero if static).
    Bin i is centred on i * 360 / direction_bins degrees."""
    magnitude_histogram: np.ndarray
    """(magnitude_bins,) magnitudes of all pixels over [0, max_magnitude] px/frame, summing to 1."""

    def as_metrics(self) -> dict[str, float | None]:
        """The scalar statistics as a JSON-ready dict."""
        return {
            "motion_dx": self.mean_displacement[0],
            "motion_dy": self.mean_displacement[1],
            "motion_direction_deg": self.direction_deg,
            "motion_speed": self.speed,
            "flow_magnitude": self.mean_magnitude,
            "moving_fraction": self.moving_fraction,
            "motion_coherence": self.coherence,
        }


def angle_deg(dx: float, dy: float) -> float:
    """Direction of the vector (dx, dy) in degrees in [0, 360), image coordinates (90 = down)."""
    angle = math.degrees(math.atan2(dy, dx)) % 360.0
    return 0.0 if angle >= 360.0 else angle  # -1e-17 % 360 rounds to 360.0


def angular_difference(a_deg: float, b_deg: float) -> float:
    """Smallest absolute difference between two angles, in degrees in [0, 180]."""
    return abs((a_deg - b_deg + 180.0) % 360.0 - 180.0)


def direction_histogram(flow_vectors: np.ndarray, n_bins: int) -> np.ndarray:
    """Magnitude-weighted histogram of the directions of flow vectors (N, 2), normalised to sum 1."""
    magnitude = np.hypot(flow_vectors[:, 0], flow_vectors[:, 1])
    angle = np.degrees(np.arctan2(flow_vectors[:, 1], flow_vectors[:, 0]))
    bins = np.rint(angle / (360.0 / n_bins)).astype(np.int64) % n_bins
    histogram = np.bincount(bins, weights=magnitude, minlength=n_bins)
    total = histogram.sum()
    return histogram / total if total > 0 else histogram


def magnitude_histogram(magnitude: np.ndarray, n_bins: int, max_magnitude: float) -> np.ndarray:
    """Histogram of flow magnitudes over [0, max_magnitude] (larger ones in the last bin), summing to 1."""
    bins = np.clip((magnitude.ravel() * (n_bins / max_magnitude)).astype(np.int64), 0, n_bins - 1)
    return np.bincount(bins, minlength=n_bins) / max(bins.size, 1)


def summarize_flow(flow: np.ndarray, settings: FlowSettings | None = None) -> MotionSummary:
    """Summarise a flow field (pairs, H, W, 2) in px/frame."""
    settings = settings or FlowSettings()
    magnitude = np.hypot(flow[..., 0], flow[..., 1])
    moving = magnitude >= settings.min_magnitude
    moving_vectors = flow[moving]
    magnitudes_hist = magnitude_histogram(magnitude, settings.magnitude_bins, settings.max_magnitude)
    if moving_vectors.size == 0:
        return MotionSummary(
            mean_displacement=(0.0, 0.0),
            direction_deg=None,
            speed=0.0,
            mean_magnitude=float(magnitude.mean()),
            moving_fraction=0.0,
            coherence=0.0,
            direction_histogram=np.zeros(settings.direction_bins),
            magnitude_histogram=magnitudes_hist,
        )
    dx, dy = (float(v) for v in moving_vectors.mean(axis=0, dtype=np.float64))
    moving_magnitude = magnitude[moving]
    return MotionSummary(
        mean_displacement=(dx, dy),
        direction_deg=angle_deg(dx, dy),
        speed=float(np.median(moving_magnitude)),
        mean_magnitude=float(magnitude.mean()),
        moving_fraction=float(moving.mean()),
        coherence=min(1.0, math.hypot(dx, dy) / float(moving_magnitude.mean())),
        direction_histogram=direction_histogram(moving_vectors, settings.direction_bins),
        magnitude_histogram=magnitudes_hist,
    )


def summarize_motion(video: np.ndarray, settings: FlowSettings | None = None) -> MotionSummary:
    """Optical flow of `video` (T, H, W, 3) uint8, T >= 2, summarised."""
    return summarize_flow(optical_flow(video, settings), settings)
