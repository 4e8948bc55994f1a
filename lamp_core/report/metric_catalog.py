"""The metrics a motion's evaluation reports, in report order, with how to read them.

Each metric of docs/METRICS.md that makes sense per motion is listed once; reports show them in this order.
`better` is "higher", "lower", or "reference" (neither is better in itself: closer to the motion's
reference clips is better).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MetricInfo:
    """How to label, read and print one metric."""

    name: str
    label: str
    better: str
    decimals: int
    unit: str = ""

    @property
    def arrow(self) -> str:
        """↑ (higher is better), ↓ (lower is better) or ≈ (closer to the references is better)."""
        return {"higher": "↑", "lower": "↓"}.get(self.better, "≈")

    def format(self, value: float | None) -> str:
        """The value with this metric's precision, or "n/a" when it is unavailable."""
        if value is None:
            return "n/a"
        text = f"{value:.{self.decimals}f}"
        return text[1:] if text.startswith("-") and not text.strip("-0.") else text  # no "-0.0"


METRICS: tuple[MetricInfo, ...] = (
    MetricInfo("learned_fraction", "learned motion", "higher", 2),
    MetricInfo("motion_fidelity", "motion fidelity", "higher", 3),
    MetricInfo("direction_emd_deg", "direction EMD", "lower", 1, "°"),
    MetricInfo("magnitude_emd", "speed EMD", "lower", 3, "px/frame"),
    MetricInfo("direction_cosine", "direction cosine", "higher", 2),
    MetricInfo("dynamic_degree", "dynamic degree", "reference", 3),
    MetricInfo("flow_magnitude", "flow magnitude", "reference", 2, "px/frame"),
    MetricInfo("motion_speed", "speed", "reference", 2, "px/frame"),
    MetricInfo("motion_coherence", "coherence", "reference", 2),
    MetricInfo("turn_rate_deg", "turn rate", "reference", 1, "°/frame"),
    MetricInfo("warping_error", "warping error", "lower", 4),
    MetricInfo("flicker", "flicker", "lower", 4),
    MetricInfo("first_frame_psnr", "first-frame PSNR", "higher", 1, "dB"),
    MetricInfo("first_frame_ssim", "first-frame SSIM", "higher", 3),
    MetricInfo("continuation_psnr", "continuation PSNR", "higher", 1, "dB"),
    MetricInfo("continuation_ssim", "continuation SSIM", "higher", 3),
    MetricInfo("continuation_mae", "continuation MAE", "lower", 4),
    MetricInfo("alignment", "CLIP alignment", "higher", 2),
    MetricInfo("consistency", "CLIP consistency", "higher", 2),
    MetricInfo("diversity", "CLIP diversity", "lower", 2),
)

METRIC_NAMES: tuple[str, ...] = tuple(info.name for info in METRICS)

REFERENCE_METRICS: tuple[str, ...] = (
    "learned_fraction",
    "dynamic_degree",
    "flow_magnitude",
    "motion_speed",
    "motion_coherence",
    "turn_rate_deg",
    "warping_error",
    "flicker",
)
"""The metrics also measured on the motion's reference clips (the training data), as the target."""


def metric_info(name: str) -> MetricInfo:
    """The catalogue entry of metric `name`."""
    for info in METRICS:
        if info.name == name:
            return info
    raise KeyError(f"no metric named {name!r} in the report catalogue")
