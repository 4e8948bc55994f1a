"""The motion artifact: only the motion weights of a tuned LAMPUNet, plus what is needed to use them.

A folder with two files:
- `motion.safetensors`: the new layers' weights and the tuned base projections (no other base weights),
  named as in `LAMPUNet.named_parameters()`;
- `motion_config.json`: format and version, the base (source and content hash), the inflation config,
  the trainable patterns, a free-form `metadata` dict (training parameters, metrics, ...), and the
  torch/diffusers versions that wrote it.

Load it onto a fresh inflation of the same base to get the tuned model back; load another motion onto the
same LAMPUNet to switch motion without reloading the base.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import diffusers
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from lamp_core.atomic_write import replacing
from lamp_core.errors import LampError

from .base import BaseIdentity
from .config import InflationConfig
from .video_unet import LAMPUNet

MOTION_WEIGHTS_NAME = "motion.safetensors"
MOTION_CONFIG_NAME = "motion_config.json"
ARTIFACT_FORMAT = "lamp-motion"
ARTIFACT_VERSION = 1


@dataclass(frozen=True)
class MotionArtifactConfig:
    """The contents of `motion_config.json`."""

    base: BaseIdentity
    inflation: InflationConfig
    trainable_patterns: tuple[str, ...]
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": ARTIFACT_FORMAT,
            "format_version": ARTIFACT_VERSION,
            "base": {"source": self.base.source, "content_hash": self.base.content_hash},
            "inflation": self.inflation.to_dict(),
            "trainable_patterns": list(self.trainable_patterns),
            "metadata": self.metadata,
            "created_with": {"torch": torch.__version__, "diffusers": diffusers.__version__},
        }


def save_motion(
    directory: str | Path,
    model: LAMPUNet,
    *,
    metadata: dict[str, Any] | None = None,
    dtype: torch.dtype | None = None,
) -> Path:
    """Write the motion weights of `model` (optionally cast to `dtype`) and their config to `directory`.

    Files are written under temporary names and then renamed, so an existing artifact is either fully
    replaced or left as it was. Returns the directory.
    """
    if model.base_identity is None:
        raise LampError(
            f"{directory}: the model has no base identity; inflate with "
            "LAMPUNet.from_unet2d(base.unet, ..., base_identity=base.identity)"
        )
    directory = Path(directory)
    config = MotionArtifactConfig(
        base=model.base_identity,
        inflation=model.inflation,
        trainable_patterns=model.trainable_patterns,
        metadata=dict(metadata or {}),
    )
    try:
        config_text = json.dumps(config.to_json(), indent=2, sort_keys=False) + "\n"
    except (TypeError, ValueError) as exc:
        raise LampError(f"{directory}: metadata is not JSON-serialisable ({exc})") from None
    tensors = {
        name: tensor.to(device="cpu", dtype=dtype or tensor.dtype).contiguous()
        for name, tensor in model.motion_state_dict().items()
    }
    weights_path, config_path = directory / MOTION_WEIGHTS_NAME, directory / MOTION_CONFIG_NAME
    try:
        with replacing(weights_path) as partial:
            save_file(tensors, partial, metadata={"format": ARTIFACT_FORMAT})
        with replacing(config_path) as partial:
            partial.write_text(config_text, encoding="utf-8")
    except OSError as exc:
        raise LampError(f"{directory}: cannot write the motion artifact ({exc})") from None
    return directory


def read_motion_config(directory: str | Path) -> MotionArtifactConfig:
    """Read and check `motion_config.json` of an artifact folder."""
    path = Path(directory) / MOTION_CONFIG_NAME
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise LampError(f"{path}: not found (is {directory} a motion artifact folder?)") from None
    except OSError as exc:
        raise LampError(f"{path}: cannot read ({exc})") from None
    except json.JSONDecodeError as exc:
        raise LampError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(raw, dict) or raw.get("format") != ARTIFACT_FORMAT:
        raise LampError(f"{path}: not a LAMP motion config (format is not {ARTIFACT_FORMAT!r})")
    if raw.get("format_version") != ARTIFACT_VERSION:
        raise LampError(
            f"{path}: format_version {raw.get('format_version')!r} is not supported "
            f"(expected {ARTIFACT_VERSION})"
        )
    try:
        base = raw["base"]
        return MotionArtifactConfig(
            base=BaseIdentity(source=str(base["source"]), content_hash=str(base["content_hash"])),
            inflation=InflationConfig.from_dict(raw["inflation"]),
            trainable_patterns=tuple(str(p) for p in raw["trainable_patterns"]),
            metadata=dict(raw.get("metadata") or {}),
        )
    except (KeyError, TypeError) as exc:
        raise LampError(f"{path}: missing or malformed entry {exc}") from None
    except LampError as exc:
        raise LampError(f"{path}: {exc}") from None


def load_motion(directory: str | Path, model: LAMPUNet, *, force: bool = False) -> MotionArtifactConfig:
    """Load an artifact's motion weights onto `model`, replacing its current motion. Returns its config.

    Refuses (unless `force`) an artifact tuned on a base whose content hash differs from the model's.
    The inflation config must match the model's: build the model with `read_motion_config(...).inflation`.
    On any error the model is left unchanged.
    """
    directory = Path(directory)
    config = read_motion_config(directory)
    ours = model.base_identity
    if not force:
        if ours is None:
            raise LampError(
                f"{directory}: the model has no base identity to check against {config.base.source!r}; "
                "inflate with base_identity=base.identity, or pass force=True"
            )
        if ours.content_hash != config.base.content_hash:
            raise LampError(
                f"{directory}: tuned on base {config.base.source!r} ({config.base.content_hash[:19]}...) "
                f"but the loaded base is {ours.source!r} ({ours.content_hash[:19]}...); "
                "load the artifact's base or pass force=True"
            )
    if config.inflation != model.inflation:
        raise LampError(
            f"{directory}: artifact inflation {config.inflation} differs from the model's {model.inflation}; "
            "inflate the base with the artifact's config (read_motion_config(...).inflation)"
        )
    weights_path = directory / MOTION_WEIGHTS_NAME
    try:
        state = load_file(weights_path)
    except FileNotFoundError:
        raise LampError(f"{weights_path}: not found") from None
    except (OSError, SafetensorError) as exc:
        raise LampError(f"{weights_path}: not a readable safetensors file ({exc})") from None
    try:
        model.load_motion_state_dict(state)
    except LampError as exc:
        raise LampError(f"{weights_path}: {exc}") from None
    return config
