"""How a 2D UNet is inflated into LAMP's video UNet (recorded in every motion artifact)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, Literal

from lamp_core.errors import LampError

GroupNormMode = Literal["video", "frame"]


@dataclass(frozen=True)
class InflationConfig:
    """Choices of the inflation.

    group_norm: "video" (the original LAMP's choice, default) normalises ResNet features with statistics
        over all frames of a video; "frame" keeps diffusers' per-frame GroupNorm.
    temporal_kernel_size: frames seen by the causal temporal conv (the method: 3, i.e. t-2, t-1, t).
    position_gate: beyond the method: the gate of every temporal conv also sees each pixel's position in
        the frame (x and y in [-1, 1]). The method's layers are the same at every pixel, so a motion whose
        displacement depends on where a pixel is (a camera zoom or roll about the frame centre) has only
        the padding at the frame's borders to tell them where they are.
    """

    group_norm: GroupNormMode = "video"
    temporal_kernel_size: int = 3
    position_gate: bool = False

    def __post_init__(self) -> None:
        if self.group_norm not in ("video", "frame"):
            raise LampError(f"group_norm must be 'video' or 'frame', not {self.group_norm!r}")
        if not isinstance(self.temporal_kernel_size, int) or self.temporal_kernel_size < 1:
            raise LampError(f"temporal_kernel_size must be a positive int, not {self.temporal_kernel_size!r}")
        if not isinstance(self.position_gate, bool):
            raise LampError(f"position_gate must be true or false, not {self.position_gate!r}")

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
