"""The `metrics:` section of params.yaml: which CLIP weights to use and the flow thresholds."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lamp_core.metrics.flow import FlowSettings
from lamp_core.params import read_settings


@dataclass(frozen=True)
class MetricsSettings:
    """Settings of the metric library, from `params["metrics"]`. The flow's parameters are the measurement's
    definition (`FlowSettings`, docs/METRICS.md); `metrics.flow` changes any of them."""

    clip_model: str
    clip_pretrained: str | None
    flow: FlowSettings = field(default_factory=FlowSettings)

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> MetricsSettings:
        """Read `metrics:` (clip_model, clip_pretrained, flow: {FlowSettings fields}) with clear errors."""
        return read_settings(cls, params.get("metrics"), "metrics")
