"""The errors lamp raises: one base for everything a user can fix, and the two that callers treat apart."""

from __future__ import annotations

from pathlib import Path


class LampError(ValueError):
    """Something the user can fix, said in one line: the file or setting at fault, and the reason.

    `LampError(path, reason)` reads "<path>: <reason>" and keeps both as attributes; `LampError(message)`
    is for a problem without one file (the message then names the setting). Entry points catch this one
    class and print it; nothing else needs to know which part of lamp raised it.
    """

    def __init__(self, where: str | Path, reason: str | None = None) -> None:
        if reason is None:
            self.path: Path | None = None
            self.reason = str(where)
            super().__init__(self.reason)
        else:
            self.path = Path(where)
            self.reason = reason
            super().__init__(f"{self.path}: {reason}")


class VideoError(LampError):
    """One video file cannot be probed, normalised, decoded or written.

    Apart from LampError because ingest rejects that one video (recording `code`, a short stable word
    such as `truncated`, in the manifest) and goes on with the others.
    """

    def __init__(self, path: str | Path, reason: str, code: str = "video_error") -> None:
        self.code = code
        super().__init__(path, reason)


class MetricUnavailable(LampError):
    """A metric cannot be measured here (e.g. no CLIP weights can be loaded); `reason` says why.

    Apart from LampError because evaluation reports such a metric as unavailable instead of failing.
    """
