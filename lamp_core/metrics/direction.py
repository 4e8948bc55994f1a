"""Which way a video moves: the helpers behind "was the motion learned?" checks."""

from __future__ import annotations

import numpy as np

from lamp_core.metrics.flow import FlowSettings
from lamp_core.metrics.motion_summary import angular_difference, summarize_motion


def motion_direction(video: np.ndarray, settings: FlowSettings | None = None) -> tuple[float, float, float]:
    """(dx, dy, speed) of `video` (T, H, W, 3) uint8: mean flow of moving pixels and their median speed.

    All in px/frame, image coordinates (+dy is down). (0, 0, 0) when nothing moves.
    """
    summary = summarize_motion(video, settings)
    dx, dy = summary.mean_displacement
    return dx, dy, summary.speed


def moves_in_direction(
    video: np.ndarray,
    expected_angle_deg: float,
    tolerance_deg: float = 45.0,
    min_speed: float = 0.5,
    settings: FlowSettings | None = None,
) -> bool:
    """Whether `video` moves at `min_speed` px/frame or faster, within `tolerance_deg` of the expected angle.

    Angles are in degrees in image coordinates: 0 = right, 90 = down, 180 = left, 270 = up.
    """
    summary = summarize_motion(video, settings)
    if summary.direction_deg is None or summary.speed < min_speed:
        return False
    return angular_difference(summary.direction_deg, expected_angle_deg) <= tolerance_deg
