"""Reading `params.yaml`: the shared defaults and each motion's effective settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lamp_core.errors import LampError


def load_params(path: str | Path = "params.yaml") -> dict[str, Any]:
    """Load params.yaml as a dict, with a clear error naming the file on failure."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise LampError(f"{path}: cannot read parameters ({exc.strerror or exc})") from None
    try:
        params = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise LampError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(params, dict):
        raise LampError(f"{path}: expected a mapping at the top level")
    return params


@dataclass(frozen=True)
class MotionConfig:
    """One motion's settings: `defaults:` overlaid with the motion's own entry under `motions:`."""

    name: str
    prompt: str
    width: int
    height: int
    fps: float
    n_frames: int
    sample_rate: int
    min_clips: int
    max_clip_seconds: float
    extra: dict[str, Any] = field(default_factory=dict)

    def get(self, key: str, default: Any = None) -> Any:
        """A per-motion key beyond the standard ones (e.g. `captions`), or `default`."""
        return self.extra.get(key, default)


_STANDARD = ("width", "height", "fps", "n_frames", "sample_rate", "min_clips", "max_clip_seconds")


def _motion_entry(params: dict[str, Any], name: str) -> Any:
    motions = params.get("motions") or {}
    if name not in motions:
        known = ", ".join(sorted(motions)) or "none"
        raise LampError(f"params.yaml: no motion named {name!r} under `motions:` (declared: {known})")
    return motions[name]


def motion_config(params: dict[str, Any], name: str) -> MotionConfig:
    """Resolve motion `name`: its entry under `motions:` over `defaults:`."""
    merged = {**(params.get("defaults") or {}), **(_motion_entry(params, name) or {})}
    missing = [k for k in _STANDARD if k not in merged]
    if missing:
        raise LampError(f"params.yaml: motion {name!r} lacks {', '.join(missing)} (see `defaults:`)")
    prompt = merged.pop("prompt", None) or name.replace("_", " ")
    for key in ("width", "height"):
        if int(merged[key]) % 8:
            raise LampError(f"params.yaml: motion {name!r}: {key}={merged[key]} is not a multiple of 8")
    if int(merged["n_frames"]) < 2:
        raise LampError(f"params.yaml: motion {name!r}: n_frames must be at least 2")
    standard = {k: merged.pop(k) for k in _STANDARD}
    return MotionConfig(
        name=name,
        prompt=str(prompt),
        width=int(standard["width"]),
        height=int(standard["height"]),
        fps=float(standard["fps"]),
        n_frames=int(standard["n_frames"]),
        sample_rate=int(standard["sample_rate"]),
        min_clips=int(standard["min_clips"]),
        max_clip_seconds=float(standard["max_clip_seconds"]),
        extra=merged,
    )


def evaluation_entry(params: dict[str, Any], name: str) -> dict[str, Any]:
    """Motion `name`'s entry under `evaluation:` (`expected_motion`, `eval_prompts`); {} when it has none.

    Kept apart from `motions:` so that DVC re-runs generation and evaluation, not tuning, when it changes.
    """
    misplaced = sorted({"eval_prompts", "expected_motion"} & set(_motion_entry(params, name) or {}))
    if misplaced:
        raise LampError(
            f"params.yaml: motions.{name} holds {', '.join(misplaced)}; they belong under evaluation.{name} "
            "(kept apart so that editing them does not re-run tuning)"
        )
    section = params.get("evaluation") or {}
    if not isinstance(section, dict):
        raise LampError("params.yaml: `evaluation:` must map motion names to their settings")
    entry = section.get(name) or {}
    if not isinstance(entry, dict):
        raise LampError(f"params.yaml: evaluation.{name} must be a mapping (expected_motion, eval_prompts)")
    return entry
