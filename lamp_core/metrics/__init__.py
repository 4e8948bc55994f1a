"""Metrics of generated videos: the paper's CLIP metrics and flow-based motion metrics.

Videos are uint8 numpy arrays (T, H, W, 3) RGB. Results are JSON-ready dicts of floats; a metric that
cannot be measured is `None`, with its reason under the `"unavailable"` key (see `results`).
Each metric's formula, units and range are documented in docs/METRICS.md.
"""

from lamp_core.metrics.clip import CLIP_METRICS, ClipScorer, ClipWeights, clip_report, resolve_clip_weights
from lamp_core.metrics.expected_motion import (
    DirectionCriterion,
    MotionCriterion,
    RollCriterion,
    RotationCriterion,
    ScaleCriterion,
    expected_motion_from_params,
)
from lamp_core.metrics.fidelity import (
    FrameErrors,
    continuation_error,
    first_frame_fidelity,
    frame_errors,
    motion_fidelity,
    psnr,
    ssim,
)
from lamp_core.metrics.flow import (
    FlowSettings,
    GlobalMotion,
    MotionSummary,
    VideoMotion,
    fit_global_motion,
    flicker,
    measure_motion,
    optical_flow,
    summarize_flow,
    summarize_motion,
    temporal_smoothness,
    warping_error,
)
from lamp_core.metrics.results import MetricResults, check_video, merge_results, unavailable
from lamp_core.metrics.settings import MetricsSettings

__all__ = [
    "CLIP_METRICS",
    "ClipScorer",
    "ClipWeights",
    "DirectionCriterion",
    "FlowSettings",
    "FrameErrors",
    "GlobalMotion",
    "MetricResults",
    "MetricsSettings",
    "MotionCriterion",
    "MotionSummary",
    "RollCriterion",
    "RotationCriterion",
    "ScaleCriterion",
    "VideoMotion",
    "check_video",
    "clip_report",
    "continuation_error",
    "expected_motion_from_params",
    "first_frame_fidelity",
    "fit_global_motion",
    "flicker",
    "frame_errors",
    "measure_motion",
    "merge_results",
    "motion_fidelity",
    "optical_flow",
    "psnr",
    "resolve_clip_weights",
    "ssim",
    "summarize_flow",
    "summarize_motion",
    "temporal_smoothness",
    "unavailable",
    "warping_error",
]
