"""Errors of the data stages: each names the file or folder and says what is wrong, in one line."""

from __future__ import annotations

from pathlib import Path


class DataError(Exception):
    """Input data or a data stage's output is unusable; `path` is the file or folder at fault."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class IngestError(DataError):
    """The raw videos of a motion cannot be ingested (missing/empty folder, too few usable clips)."""


class ManifestError(DataError):
    """A manifest.csv is missing or malformed."""


class CaptionsError(DataError):
    """A captions file is malformed, or captions cannot be produced."""


class FrameCacheError(DataError):
    """The frame cache of a motion cannot be built or read."""


class ExamplesError(DataError):
    """A built-in example motion cannot be rendered."""
