"""Errors of video I/O: each names the file and says, in one line, what is wrong with it."""

from __future__ import annotations

from pathlib import Path


class VideoError(Exception):
    """A video file could not be probed, normalised, decoded or written.

    `code` is a short stable word for manifests and tests (e.g. `truncated`); `reason` is for people.
    """

    code = "video_error"

    def __init__(self, path: str | Path, reason: str, code: str | None = None) -> None:
        self.path = Path(path)
        self.reason = reason
        if code is not None:
            self.code = code
        super().__init__(f"{self.path}: {reason}")


class VideoProbeError(VideoError):
    """The file is not a usable video: empty, unreadable, not a video, truncated, too large, ..."""

    code = "not_a_video"


class VideoNormaliseError(VideoError):
    """ffmpeg could not turn the file into normalised clips."""

    code = "normalise_failed"


class VideoDecodeError(VideoError):
    """The frames of a (normalised) clip could not be decoded."""

    code = "decode_failed"


class VideoEncodeError(VideoError):
    """Frames could not be written as a video file."""

    code = "encode_failed"
