"""Reading `params.yaml`: the shared defaults, each motion's effective settings, and `read_settings`, the one
reader of a settings section (unknown keys and bad values named by their key path)."""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml

from lamp_core.errors import LampError

PARAMS_FILE = "params.yaml"
S = TypeVar("S")


def read_settings(
    cls: type[S], values: Any, where: str, file: str = PARAMS_FILE, flat: tuple[str, ...] = ()
) -> S:
    """Build the settings dataclass `cls` from the mapping `values` found at key path `where` of `file`.

    The one reader of every settings section: a key `cls` does not have, or a value of the wrong type, is a
    `LampError` naming `file` and the key's full path (`tune.learning_rate: expected a number, got 'fast'`).
    Values are converted by the field's type (YAML reads `1e-3` as a string and `no` as false); a field
    that is itself a settings dataclass is read the same way, one level down. Keys not given keep the
    class's defaults; the pipeline's settings classes have none (params.yaml is the one home of a default),
    so a key missing there is an error naming it too. The settings dataclasses of the fields named in `flat`
    are read from the same mapping (one params.yaml section for several classes).
    """
    if values is None:
        values = {}
    if not isinstance(values, Mapping):
        raise LampError(file, f"`{where}` must be a mapping of settings, not {values!r}")
    hints = typing.get_type_hints(cls)
    values = dict(values)
    converted = {}
    for name in flat:
        part = hints[name]
        names = {f.name for f in dataclasses.fields(part)}
        converted[name] = read_settings(
            part, {k: values.pop(k) for k in list(values) if k in names}, where, file
        )
    known = [f.name for f in dataclasses.fields(cls) if f.init and f.name not in flat]
    known += [f.name for name in flat for f in dataclasses.fields(hints[name])]
    unknown = sorted(set(values) - set(known))
    if unknown:
        keys = ", ".join(f"`{where}.{key}`" for key in unknown)
        raise LampError(file, f"unknown key {keys} (known: {', '.join(known)})")
    missing = [
        f.name
        for f in dataclasses.fields(cls)
        if f.init
        and f.name not in flat
        and f.name not in values
        and f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        keys = ", ".join(f"`{where}.{key}`" for key in missing)
        raise LampError(file, f"missing key {keys}")
    converted |= {name: _convert(hints[name], v, f"{where}.{name}", file) for name, v in values.items()}
    try:
        return cls(**converted)
    except LampError as exc:
        if exc.path is not None:
            raise
        raise LampError(file, f"`{where}`: {exc.reason}") from None
    except (TypeError, ValueError) as exc:
        raise LampError(file, f"`{where}`: {exc}") from None


def _convert(kind: Any, value: Any, where: str, file: str) -> Any:
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (kind,) = [a for a in args if a is not type(None)][:1] or [Any]
        return _convert(kind, value, where, file)
    if dataclasses.is_dataclass(kind):
        return value if isinstance(value, kind) else read_settings(kind, value, where, file)

    def bad(expected: str) -> LampError:
        return LampError(file, f"`{where}`: expected {expected}, got {value!r}")

    if kind is bool:
        if not isinstance(value, bool):
            raise bad("true or false")
        return value
    if kind is int:
        if isinstance(value, bool):
            raise bad("a whole number")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise bad("a whole number") from None
        if number != int(number):
            raise bad("a whole number")
        return int(number)
    if kind is float:
        if isinstance(value, bool):
            raise bad("a number")
        try:
            return float(value)
        except (TypeError, ValueError):
            raise bad("a number") from None
    if kind is str:
        if value is False:  # YAML 1.1 reads a bare `no` as false
            return "no"
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise bad("a string")
        return str(value)
    if origin is typing.Literal:
        if value is False and "no" in args:
            value = "no"
        if value not in args:
            raise bad("one of " + ", ".join(repr(a) for a in args))
        return value
    if origin is tuple:
        if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
            raise bad("a list")
        item = args[0] if args else Any
        return tuple(_convert(item, v, f"{where}[{i}]", file) for i, v in enumerate(value))
    if origin is list:
        if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
            raise bad("a list")
        item = args[0] if args else Any
        return [_convert(item, v, f"{where}[{i}]", file) for i, v in enumerate(value)]
    if origin is dict or kind is dict:
        if not isinstance(value, Mapping):
            raise bad("a mapping")
        return dict(value)
    return value


def load_params(path: str | Path = PARAMS_FILE) -> dict[str, Any]:
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
