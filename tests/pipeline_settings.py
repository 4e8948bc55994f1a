"""A settings class as the pipeline runs it: params.yaml's section (their one home), with a test's changes."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, TypeVar

from lamp_core.params import load_params, read_settings

PARAMS = load_params(Path(__file__).resolve().parents[1] / "params.yaml")
S = TypeVar("S")


def from_params(cls: type[S], section: str, **changes: Any) -> S:
    """`cls` read from params.yaml's `section` (keys that are not `cls`'s fields left out), then `changes`."""
    names = {f.name for f in dataclasses.fields(cls)}
    values = {key: value for key, value in (PARAMS.get(section) or {}).items() if key in names}
    return read_settings(cls, values | changes, section)
