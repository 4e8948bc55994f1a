"""How a 2D UNet is inflated into LAMP's video UNet (recorded in every motion artifact)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, Literal

from lamp_core.errors import LampError

GroupNormMode = Literal["video", "frame"]


@dataclass(frozen=True)
class InflationConfig:
    """Choices of the inflation (`model:` in params.yaml; `InflationConfig.paper()` is the method's own).

    group_norm: "video" (the original LAMP's choice) normalises ResNet features with statistics over all
        frames of a video; "frame" keeps diffusers' per-frame GroupNorm.
    temporal_kernel_size: frames seen by the causal temporal conv (the method: 3, i.e. t-2, t-1, t).
    """

    group_norm: GroupNormMode
    temporal_kernel_size: int

    @classmethod
    def paper(cls) -> InflationConfig:
        """The method's inflation (LAMP_METHOD.md): video GroupNorm statistics, temporal kernel 3."""
        return cls(group_norm="video", temporal_kernel_size=3)

    def __post_init__(self) -> None:
        if self.group_norm not in ("video", "frame"):
            raise LampError(f"group_norm must be 'video' or 'frame', not {self.group_norm!r}")
        if not isinstance(self.temporal_kernel_size, int) or self.temporal_kernel_size < 1:
            raise LampError(f"temporal_kernel_size must be a positive int, not {self.temporal_kernel_size!r}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InflationConfig:
        """Inverse of `to_dict`; unknown keys are an error (a newer artifact format)."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise LampError(f"unknown inflation settings: {', '.join(unknown)}")
        return cls(**data)
