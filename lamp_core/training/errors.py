"""Errors of LAMP tuning: each names the file or folder at fault and says what is wrong, in one line."""

from __future__ import annotations

from pathlib import Path


class TuneError(Exception):
    """Tuning cannot start, go on, or publish its result; `path` is the file or folder at fault."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class TuneSettingsError(TuneError):
    """The `tune:` or `model:` section of params.yaml asks for something impossible or unknown."""


class CheckpointError(TuneError):
    """A training checkpoint cannot be written or read."""


class TuneOutputError(TuneError):
    """An output folder (artifact, checkpoints, logs) cannot be written."""


class NonFiniteLossError(TuneError):
    """The loss became NaN or infinite; `step` is the step at which it happened."""

    def __init__(self, path: str | Path, reason: str, step: int) -> None:
        self.step = step
        super().__init__(path, reason)
