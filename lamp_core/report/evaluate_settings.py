"""The `evaluate:` section of params.yaml: how each motion's evaluation is presented."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lamp_core.errors import LampError


@dataclass(frozen=True)
class EvaluateSettings:
    """Settings of the evaluate stage, from `params["evaluate"]` (every key optional)."""

    reference_gifs: int = 4
    """How many of a motion's reference clips the HTML report shows (written as GIFs)."""

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> EvaluateSettings:
        """Read `evaluate:` with clear errors for unknown keys and bad values."""
        section = params.get("evaluate") or {}
        if not isinstance(section, dict):
            raise LampError("params.yaml: `evaluate:` must be a mapping")
        unknown = sorted(set(section) - {"reference_gifs"})
        if unknown:
            raise LampError(f"params.yaml: unknown keys under `evaluate:`: {', '.join(unknown)}")
        value = section.get("reference_gifs", cls.reference_gifs)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise LampError(
                f"params.yaml: evaluate.reference_gifs must be a whole number >= 0, got {value!r}"
            )
        return cls(reference_gifs=value)
