"""The settings of LAMP tuning: the `tune:` and `model:` sections of params.yaml, checked once.

The motion's W x H, frames per window and stride come from `defaults:`/`motions:` (`MotionConfig`); the
base model from `base.model`.
"""

from __future__ import annotations

import importlib.util
import math
from dataclasses import asdict, dataclass
from typing import Any

from lamp_core.errors import LampError
from lamp_core.model import InflationConfig
from lamp_core.params import PARAMS_FILE, MotionConfig, read_settings

MIXED_PRECISION = ("no", "fp16", "bf16")
# diffusers.optimization.get_scheduler names that need no more than warm-up and total steps.
LR_SCHEDULERS = ("constant", "constant_with_warmup", "linear", "cosine")
# Settings that change how often things happen, not what is learned: a checkpoint written under other
# values of these is resumed from.
_SCHEDULE_ONLY = (
    "steps",
    "checkpoint_every",
    "validate_every",
    "log_every",
    "validation",
    "num_processes",
    "threads",
)


@dataclass(frozen=True)
class TuneSettings:
    """One tuning run's settings (`tune:` in params.yaml, the one home of their values: no defaults here).

    The paper's values (SD 1.4, GPU) are in params.yaml's comments and in benchmarks/presets.py's sd14 preset.
    """

    steps: int
    learning_rate: float
    batch_size: int  # videos per step and per process
    seed: int
    lr_scheduler: str
    lr_warmup_steps: int
    adam_beta1: float
    adam_beta2: float
    adam_weight_decay: float
    adam_epsilon: float
    max_grad_norm: float
    flip_p: float
    mixed_precision: str
    gradient_checkpointing: bool
    use_8bit_adam: bool
    num_processes: int
    threads: int  # torch CPU threads per process (0: torch's default)
    checkpoint_every: int
    validate_every: int  # 0: no validation videos
    log_every: int
    validation: dict[str, Any]  # passed to the sampler

    def __post_init__(self) -> None:
        where = PARAMS_FILE
        positive = ("steps", "batch_size", "num_processes", "checkpoint_every", "log_every")
        for name in positive:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise LampError(where, f"tune.{name} must be a positive integer, not {value!r}")
        for name in ("seed", "lr_warmup_steps", "validate_every", "threads"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise LampError(where, f"tune.{name} must be an integer >= 0, not {value!r}")
        for name in ("learning_rate", "adam_epsilon", "max_grad_norm"):
            value = getattr(self, name)
            if not _is_number(value) or not value > 0 or not math.isfinite(value):
                raise LampError(where, f"tune.{name} must be a positive number, not {value!r}")
        for name in ("adam_beta1", "adam_beta2", "flip_p"):
            value = getattr(self, name)
            if not _is_number(value) or not 0 <= value <= 1:
                raise LampError(where, f"tune.{name} must be between 0 and 1, not {value!r}")
        if not _is_number(self.adam_weight_decay) or self.adam_weight_decay < 0:
            raise LampError(where, f"tune.adam_weight_decay must be >= 0, not {self.adam_weight_decay!r}")
        if self.mixed_precision not in MIXED_PRECISION:
            raise LampError(
                where,
                f"tune.mixed_precision must be one of {', '.join(MIXED_PRECISION)}, "
                f'not {self.mixed_precision!r} (quote "no": bare no is a YAML boolean)',
            )
        if self.lr_scheduler not in LR_SCHEDULERS:
            raise LampError(
                where,
                f"tune.lr_scheduler must be one of {', '.join(LR_SCHEDULERS)}, not {self.lr_scheduler!r}",
            )
        for name in ("gradient_checkpointing", "use_8bit_adam"):
            if not isinstance(getattr(self, name), bool):
                raise LampError(where, f"tune.{name} must be true or false, not {getattr(self, name)!r}")
        if not isinstance(self.validation, dict):
            raise LampError(where, f"tune.validation must be a mapping, not {self.validation!r}")
        if self.use_8bit_adam and importlib.util.find_spec("bitsandbytes") is None:
            raise LampError(
                where,
                "tune.use_8bit_adam is true but bitsandbytes is not installed "
                "(pip install bitsandbytes, on a CUDA machine), or set it to false",
            )

    @classmethod
    def from_dict(cls, values: dict[str, Any] | None) -> TuneSettings:
        """Build from the `tune:` mapping; unknown keys are an error naming them."""
        return read_settings(cls, values, "tune")

    @classmethod
    def for_motion(cls, values: dict[str, Any] | None, motion: MotionConfig) -> TuneSettings:
        """`tune:` overlaid with the motion's own `motions.<name>.tune:` mapping, if it has one.

        A direction-specific motion sets `tune: {flip_p: 0}` there: a mirrored window of "slide right"
        slides left, and a mirrored orbit turns the other way.
        """
        overrides = motion.get("tune")
        if overrides is None:
            return cls.from_dict(values)
        if not isinstance(overrides, dict):
            raise LampError(
                PARAMS_FILE,
                f"motions.{motion.name}.tune must be a mapping of tune settings, not {overrides!r}",
            )
        return cls.from_dict({**(values or {}), **overrides})

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the model card's record)."""
        return asdict(self)

    def learning_fields(self) -> dict[str, Any]:
        """The settings that change what is learned (a checkpoint resumes only under equal values)."""
        record = {k: v for k, v in self.to_dict().items() if k not in _SCHEDULE_ONLY}
        if self.lr_scheduler not in ("constant", "constant_with_warmup"):
            record["steps"] = self.steps  # the learning-rate curve depends on the total
        return record


@dataclass(frozen=True)
class ModelSettings:
    """How the base is inflated and what is tuned (`model:` in params.yaml; generate reads it too)."""

    inflation: InflationConfig
    trainable_patterns: tuple[str, ...]

    @classmethod
    def from_dict(cls, values: dict[str, Any] | None) -> ModelSettings:
        """Build from the `model:` mapping: `group_norm`, `temporal_kernel_size`, `trainable` (glob list)."""
        values = dict(values or {})
        if "trainable" not in values:
            raise LampError(PARAMS_FILE, "missing key `model.trainable`")
        trainable = values.pop("trainable")
        inflation = read_settings(InflationConfig, values, "model")
        if isinstance(trainable, list) and trainable and all(isinstance(p, str) for p in trainable):
            patterns = tuple(trainable)
        else:
            raise LampError(
                PARAMS_FILE, f"model.trainable must be a list of glob patterns, not {trainable!r}"
            )
        return cls(inflation=inflation, trainable_patterns=patterns)

    def to_dict(self) -> dict[str, Any]:
        return {**self.inflation.to_dict(), "trainable": list(self.trainable_patterns)}


def base_source(params: dict[str, Any]) -> str:
    """The SD 1.x base every stage uses: `base.model` (a folder, a hub id or a single checkpoint file)."""
    source = (params.get("base") or {}).get("model")
    if not isinstance(source, str) or not source.strip():
        raise LampError(
            PARAMS_FILE, "`base.model` is not set (the SD 1.x base to tune: folder, hub id or file)"
        )
    return source


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
