"""The shape of metric results (plain JSON-ready dicts, with `None` and a reason for what cannot be measured),
and the checks of the videos handed to the metrics.

A result maps each metric name to a float, or to `None` when the metric is unavailable; in that case the
reserved key `"unavailable"` maps the metric's name to a human-readable reason::

    {"alignment": None, "consistency": None, "diversity": None,
     "unavailable": {"alignment": "no CLIP weights configured", ...}}
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from lamp_core.errors import LampError

UNAVAILABLE_KEY = "unavailable"

MetricResults = dict[str, Any]
"""Metric name -> float or None, plus the optional `"unavailable"` name -> reason map."""


def unavailable(names: Iterable[str], reason: str) -> MetricResults:
    """A result in which every metric in `names` is `None` for the same `reason`."""
    names = list(names)
    return {**dict.fromkeys(names), UNAVAILABLE_KEY: dict.fromkeys(names, reason)}


def merge_results(*parts: Mapping[str, Any]) -> MetricResults:
    """Combine several results into one, merging their `"unavailable"` reasons."""
    merged: MetricResults = {}
    reasons: dict[str, str] = {}
    for part in parts:
        reasons.update(part.get(UNAVAILABLE_KEY, {}))
        merged.update({key: value for key, value in part.items() if key != UNAVAILABLE_KEY})
    if reasons:
        merged[UNAVAILABLE_KEY] = reasons
    return merged


# Checking the videos and frames handed to the metrics, with errors that say what is wrong.


def check_video(video: Any, source: str = "video", *, min_frames: int = 1, min_size: int = 1) -> np.ndarray:
    """Return `video` as a uint8 array (T, H, W, 3), or raise LampError naming `source`."""
    if not isinstance(video, np.ndarray):
        raise LampError(f"{source}: expected a numpy array (T, H, W, 3), got {type(video).__name__}")
    if video.dtype != np.uint8:
        raise LampError(f"{source}: expected uint8 RGB frames, got dtype {video.dtype}")
    if video.ndim != 4 or video.shape[-1] != 3:
        raise LampError(f"{source}: expected shape (T, H, W, 3), got {video.shape}")
    n_frames, height, width = video.shape[:3]
    if n_frames < min_frames:
        raise LampError(f"{source}: needs at least {min_frames} frames, got {n_frames}")
    if min(height, width) < min_size:
        raise LampError(f"{source}: frames of {width}x{height} px are smaller than {min_size} px")
    return video


def check_frame(frame: Any, source: str = "frame", *, min_size: int = 1) -> np.ndarray:
    """Return `frame` as a uint8 array (H, W, 3), or raise LampError naming `source`."""
    if not isinstance(frame, np.ndarray) or frame.ndim != 3:
        shape = getattr(frame, "shape", type(frame).__name__)
        raise LampError(f"{source}: expected a numpy array (H, W, 3), got {shape}")
    return check_video(frame[None], source, min_size=min_size)[0]


def check_videos(videos: Any, source: str, *, min_count: int = 1, **video_checks: int) -> list[np.ndarray]:
    """Check a sequence of videos; items are named `"<source> <index>"` in errors."""
    if isinstance(videos, np.ndarray) or not hasattr(videos, "__len__"):
        raise LampError(f"{source}: expected a sequence of videos, got {type(videos).__name__}")
    if len(videos) < min_count:
        raise LampError(f"{source}: needs at least {min_count} videos, got {len(videos)}")
    return [check_video(video, f"{source} {i}", **video_checks) for i, video in enumerate(videos)]
