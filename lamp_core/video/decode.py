"""Decoding a video file's frames into one uint8 array: decord, with PyAV where decord fails."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import av
import numpy as np

from lamp_core.errors import VideoError
from lamp_core.video.probe import file_url

logger = logging.getLogger(__name__)


def read_video(path: str | Path, indices: Sequence[int] | None = None) -> np.ndarray:
    """Frames of `path` as uint8 `(T, H, W, 3)` RGB; all of them, or those at `indices`.

    Meant for the normalised clips (constant frame rate, H.264 MP4), where frame indices are exact.
    decord 0.6 fails on some frame widths (e.g. 48 or 72 pixels: it mishandles padded rows); those
    files are decoded with PyAV instead, which gives the same frames.
    """
    import decord  # imported here: decord loads its own FFmpeg libraries, needed only when decoding

    path = Path(path)
    if not path.is_file():
        raise VideoError(path, "file does not exist", "missing")
    try:
        reader = decord.VideoReader(str(path), ctx=decord.cpu(0), num_threads=1)
    except (decord.DECORDError, RuntimeError) as exc:  # decord raises RuntimeError for unreadable files
        raise VideoError(path, f"decord cannot open it ({_first_line(exc)})", "decode_failed") from None
    n_frames = len(reader)
    if n_frames == 0:
        raise VideoError(path, "the video has no frames", "decode_failed")
    wanted = list(range(n_frames)) if indices is None else _checked(indices, n_frames, path)
    try:
        frames = reader.get_batch(wanted).asnumpy()
    except decord.DECORDError as exc:
        logger.debug("%s: decord failed (%s); decoding with PyAV", path, _first_line(exc))
        frames = _read_with_pyav(path, n_frames)[wanted]
    return np.ascontiguousarray(frames)


def _checked(indices: Sequence[int], n_frames: int, path: Path) -> list[int]:
    """Indices as non-negative ints (negative ones count from the end); out of range is an error."""
    bad = [int(i) for i in indices if not -n_frames <= int(i) < n_frames]
    if bad:
        raise VideoError(path, f"frame indices {bad[:5]} out of range for {n_frames} frames", "decode_failed")
    return [int(i) % n_frames for i in indices]


def _read_with_pyav(path: Path, n_frames: int) -> np.ndarray:
    try:
        with av.open(file_url(path)) as container:
            frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
    except (av.error.FFmpegError, IndexError) as exc:
        raise VideoError(path, f"cannot decode it ({exc})", "decode_failed") from None
    if len(frames) != n_frames:
        raise VideoError(
            path, f"decoded {len(frames)} frames where the index declares {n_frames}", "decode_failed"
        )
    return np.stack(frames)


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][-200:] if text else type(exc).__name__
