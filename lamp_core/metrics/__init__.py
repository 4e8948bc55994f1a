"""Metrics of generated videos: the paper's CLIP metrics and flow-based motion metrics.

Videos are uint8 numpy arrays (T, H, W, 3) RGB. Results are JSON-ready dicts of floats; a metric that
cannot be measured is `None`, with its reason under the `"unavailable"` key (see `results`).
Each metric's formula, units and range are documented in docs/METRICS.md.
"""

from lamp_core.metrics.clip_metrics import CLIP_METRICS, ClipScorer, clip_report
from lamp_core.metrics.clip_weights import ClipWeights, resolve_clip_weights
from lamp_core.metrics.fidelity import (
    FrameErrors,
    continuation_error,
    first_frame_fidelity,
    frame_errors,
    psnr,
    ssim,
)
from lamp_core.metrics.flow import FlowSettings, optical_flow
from lamp_core.metrics.global_motion import GlobalMotion, fit_global_motion
from lamp_core.metrics.motion_fidelity import motion_fidelity
from lamp_core.metrics.motion_summary import MotionSummary, summarize_flow, summarize_motion
from lamp_core.metrics.results import MetricResults, merge_results, unavailable
from lamp_core.metrics.settings import MetricsSettings
from lamp_core.metrics.smoothness import flicker, temporal_smoothness, warping_error
from lamp_core.metrics.validation import check_video

__all__ = [
    "CLIP_METRICS",
    "ClipScorer",
    "ClipWeights",
    "FlowSettings",
    "FrameErrors",
    "GlobalMotion",
    "MetricResults",
    "MetricsSettings",
    "MotionSummary",
    "check_video",
    "clip_report",
    "continuation_error",
    "first_frame_fidelity",
    "fit_global_motion",
    "flicker",
    "frame_errors",
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
