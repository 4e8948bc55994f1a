"""Dynamic degree: how much of a video moves, and how fast."""

from __future__ import annotations

import numpy as np

from lamp_core.metrics.flow import FlowSettings
from lamp_core.metrics.motion_summary import summarize_motion
from lamp_core.metrics.results import MetricResults
from lamp_core.metrics.validation import check_video


def dynamic_degree(video: np.ndarray, settings: FlowSettings | None = None) -> MetricResults:
    """`dynamic_degree`: fraction of pixels (over all frame pairs) whose flow is at least `min_magnitude`
    px/frame, in [0, 1]; `flow_magnitude`: mean flow magnitude over all pixels, px/frame.

    Neither is better high or low in itself: 0 means a still image, references set the expected level.
    """
    summary = summarize_motion(check_video(video, min_frames=2), settings)
    return {"dynamic_degree": summary.moving_fraction, "flow_magnitude": summary.mean_magnitude}
