"""The knobs of LAMP sampling (defaults: the paper's values) and the memory options of a sampling run."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from lamp_core.errors import LampError

from .adain import DEFAULT_ADAIN_SWITCH_FRACTION
from .shared_noise import DEFAULT_SHARED_NOISE_WEIGHT


@dataclass(frozen=True)
class SamplingConfig:
    """How frames 2..f are sampled. Defaults are the paper's (supplementary material, Algorithm 1).

    num_inference_steps: DDIM steps (eta 0). guidance_scale: classifier-free guidance (<= 1: none).
    shared_noise_weight: x_T^i = (1 - w) n_i + w n_b. adain_switch_fraction: share of the steps in AdaIN's
    first phase (frames 3..f to frame 2's statistics) before the second (frames 2..f to the first frame's).
    histogram_matching: match frames 2..f to frame 1 per RGB channel after decoding.
    """

    num_inference_steps: int = 50
    guidance_scale: float = 12.5
    negative_prompt: str = ""
    shared_noise_weight: float = DEFAULT_SHARED_NOISE_WEIGHT
    adain: bool = True
    adain_switch_fraction: float = DEFAULT_ADAIN_SWITCH_FRACTION
    histogram_matching: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.num_inference_steps, int) or self.num_inference_steps < 1:
            raise LampError(
                f"num_inference_steps must be a positive integer, got {self.num_inference_steps!r}"
            )
        if not self.guidance_scale >= 0:
            raise LampError(f"guidance_scale must be >= 0, got {self.guidance_scale!r}")
        if not 0.0 <= self.shared_noise_weight <= 1.0:
            raise LampError(f"shared_noise_weight must be in [0, 1], got {self.shared_noise_weight!r}")
        if not 0.0 <= self.adain_switch_fraction <= 1.0:
            raise LampError(f"adain_switch_fraction must be in [0, 1], got {self.adain_switch_fraction!r}")

    @property
    def uses_guidance(self) -> bool:
        """Whether classifier-free guidance runs (an unconditional branch is batched with the prompt's)."""
        return self.guidance_scale > 1.0

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], where: str) -> SamplingConfig:
        """Build from a params-style mapping holding some of the fields; unknown keys are an error."""
        return _from_mapping(cls, values, where)


@dataclass(frozen=True)
class MemoryOptions:
    """What a user on a small GPU turns on. Attention always runs through PyTorch's SDPA.

    vae_slicing: encode/decode one frame at a time. vae_tiling: the VAE works in overlapping tiles
    (large frames). cpu_offload: text encoder, video UNet and VAE stay on the CPU and each moves to the
    device only while it runs.
    """

    vae_slicing: bool = False
    vae_tiling: bool = False
    cpu_offload: bool = False

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], where: str) -> MemoryOptions:
        """Build from a params-style mapping holding some of the fields; unknown keys are an error."""
        return _from_mapping(cls, values, where)


def _from_mapping(cls: type, values: Mapping[str, Any], where: str) -> Any:
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise LampError(f"{where}: unknown setting(s) {', '.join(unknown)} (known: {', '.join(known)})")
    converted = {}
    for name, value in values.items():
        default = known[name].default
        try:
            if isinstance(default, bool):
                if not isinstance(value, bool):
                    raise TypeError("expected true or false")
                converted[name] = value
            elif isinstance(default, int):
                if isinstance(value, bool) or float(value) != int(float(value)):
                    raise TypeError("expected an integer")
                converted[name] = int(float(value))
            else:
                converted[name] = type(default)(value)
        except (TypeError, ValueError) as exc:
            raise LampError(f"{where}: {name}={value!r}: {exc}") from None
    return cls(**converted)
