"""The `metrics:` section of params.yaml: which CLIP weights to use and the flow thresholds."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from lamp_core.errors import LampError
from lamp_core.metrics.flow import FlowSettings


@dataclass(frozen=True)
class MetricsSettings:
    """Settings of the metric library, from `params["metrics"]` (every key optional)."""

    clip_model: str = "ViT-B-32"
    clip_pretrained: str | None = None
    flow: FlowSettings = field(default_factory=FlowSettings)

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> MetricsSettings:
        """Read `metrics:` (clip_model, clip_pretrained, flow: {FlowSettings fields}) with clear errors."""
        section = params.get("metrics") or {}
        if not isinstance(section, dict):
            raise LampError("params.yaml: `metrics:` must be a mapping")
        unknown = set(section) - {"clip_model", "clip_pretrained", "flow"}
        if unknown:
            raise LampError(f"params.yaml: unknown keys under `metrics:`: {', '.join(sorted(unknown))}")
        flow_section = section.get("flow") or {}
        known_flow = [f.name for f in fields(FlowSettings)]
        unknown_flow = set(flow_section) - set(known_flow)
        if unknown_flow:
            raise LampError(
                f"params.yaml: unknown keys under `metrics.flow:`: {', '.join(sorted(unknown_flow))} "
                f"(known: {', '.join(known_flow)})"
            )
        defaults = FlowSettings()
        try:
            flow = FlowSettings(**{k: type(getattr(defaults, k))(v) for k, v in flow_section.items()})
        except (TypeError, ValueError) as exc:
            raise LampError(f"params.yaml: `metrics.flow:` {exc}") from None
        pretrained = section.get("clip_pretrained")
        return cls(
            clip_model=str(section.get("clip_model", cls.clip_model)),
            clip_pretrained=None if pretrained is None else str(pretrained),
            flow=flow,
        )
