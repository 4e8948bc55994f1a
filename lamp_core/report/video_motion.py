"""One video's motion, measured once from its optical flow: the library's summary, how its path turns,
the direction of each frame pair, and the similarity motion about the frame centre of each frame pair
(`lamp_core.metrics.fit_global_motion`: the camera's zoom and roll).

The turn statistics describe how the direction of motion changes from one frame pair to the next. For
each frame pair, the mean flow vector of the moving pixels is the object's velocity; an object orbiting
a point turns that velocity at the orbit's angular speed, a sliding object does not turn it at all.
Angles are in image coordinates (0 = right, 90 = down), so a positive turn is clockwise on screen.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lamp_core.metrics import (
    FlowSettings,
    GlobalMotion,
    MotionSummary,
    fit_global_motion,
    optical_flow,
    summarize_flow,
)
from lamp_core.metrics.motion_summary import angle_deg


@dataclass(frozen=True)
class VideoMotion:
    """Motion statistics of one video (see `lamp_core.metrics.MotionSummary` for `summary`)."""

    summary: MotionSummary
    turn_rate_deg: float | None
    """Mean change of the direction of motion, degrees per frame; > 0 is clockwise on screen.
    None when fewer than two frame pairs have a direction."""
    clockwise_fraction: float | None
    """Fraction of the turns between consecutive directed frame pairs that are clockwise, in [0, 1]."""
    frame_size: tuple[int, int] = (0, 0)
    """(height, width) of the video in pixels."""
    pair_directions_deg: tuple[float | None, ...] = ()
    """Direction of the mean flow of each frame pair's moving pixels, in [0, 360); None where it is
    shorter than the flow's `min_magnitude` (no direction)."""
    global_motion: GlobalMotion | None = None
    """The similarity motion of each frame pair; None when no frame pair has enough moving pixels."""

    @property
    def side(self) -> float:
        """The frame's mean side, (height + width) / 2 px: the unit of the criteria's relative speeds."""
        return (self.frame_size[0] + self.frame_size[1]) / 2.0

    def as_metrics(self) -> dict[str, float | None]:
        """The scalar statistics, JSON-ready: the summary's, `turn_rate_deg`, `clockwise_fraction`, and
        the global motion's mean `scale_rate` and `roll_rate_deg` (None when it has none)."""
        fit = self.global_motion
        return {
            **self.summary.as_metrics(),
            "turn_rate_deg": self.turn_rate_deg,
            "clockwise_fraction": self.clockwise_fraction,
            "scale_rate": None if fit is None else fit.scale_rate,
            "roll_rate_deg": None if fit is None else fit.roll_rate_deg,
        }


def pair_velocities(flow: np.ndarray, min_magnitude: float) -> tuple[np.ndarray, np.ndarray]:
    """Mean flow vector of the moving pixels of each frame pair of `flow` (P, H, W, 2) -> (P, 2), and
    a mask (P,) of the pairs whose mean vector is at least `min_magnitude` long (those have a direction)."""
    magnitude = np.hypot(flow[..., 0], flow[..., 1])
    moving = magnitude >= min_magnitude
    counts = moving.sum(axis=(1, 2))
    sums = (flow * moving[..., None]).sum(axis=(1, 2), dtype=np.float64)
    velocity = sums / np.maximum(counts, 1)[:, None]
    directed = (counts > 0) & (np.hypot(velocity[:, 0], velocity[:, 1]) >= min_magnitude)
    return velocity, directed


def turn_statistics(flow: np.ndarray, min_magnitude: float) -> tuple[float | None, float | None]:
    """(turn rate in degrees per frame, clockwise fraction) of a flow field (P, H, W, 2); see `VideoMotion`.

    Turns are taken between consecutive frame pairs that have a direction; across a gap of undirected
    pairs the turn is spread over the frames it spans.
    """
    velocity, directed = pair_velocities(flow, min_magnitude)
    index = np.flatnonzero(directed)
    if len(index) < 2:
        return None, None
    angle = np.degrees(np.arctan2(velocity[index, 1], velocity[index, 0]))
    turn = (np.diff(angle) + 180.0) % 360.0 - 180.0  # wrapped to [-180, 180)
    frames = np.diff(index)
    return float(turn.sum() / frames.sum()), float((turn > 0).mean())


def measure_motion(video: np.ndarray, settings: FlowSettings | None = None) -> VideoMotion:
    """Optical flow of `video` (T, H, W, 3) uint8, T >= 2, computed once and summarised."""
    settings = settings or FlowSettings()
    flow = optical_flow(video, settings)
    turn_rate, clockwise = turn_statistics(flow, settings.min_magnitude)
    velocity, directed = pair_velocities(flow, settings.min_magnitude)
    directions = tuple(
        angle_deg(float(dx), float(dy)) if has_direction else None
        for (dx, dy), has_direction in zip(velocity, directed, strict=True)
    )
    return VideoMotion(
        summarize_flow(flow, settings),
        turn_rate,
        clockwise,
        frame_size=(int(flow.shape[1]), int(flow.shape[2])),
        pair_directions_deg=directions,
        global_motion=fit_global_motion(flow, settings.min_magnitude),
    )
