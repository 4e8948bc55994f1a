"""The error raised when a motion's samples, references or reports cannot be evaluated or written."""

from __future__ import annotations

from pathlib import Path


class ReportError(Exception):
    """Evaluation input or report output is unusable; `path` is the file or folder at fault."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")
