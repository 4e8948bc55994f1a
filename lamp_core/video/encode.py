"""Writing frames as a video file: the one place the project writes videos (MP4/H.264 and GIF)."""

from __future__ import annotations

from pathlib import Path

import ffmpeg
import numpy as np

from lamp_core.atomic_write import replacing
from lamp_core.errors import LampError, VideoError
from lamp_core.video.ffmpeg_cli import BITEXACT_OUTPUT, file_url, fps_string, run_ffmpeg

WRITABLE_EXTENSIONS = (".mp4", ".gif")


def write_video(frames: np.ndarray, path: str | Path, fps: float, *, crf: int = 18) -> Path:
    """Write uint8 RGB frames `(T, H, W, 3)` to `path` (.mp4: H.264 yuv420p; .gif: 256-colour palette).

    H.264 in yuv420p needs an even width and height: an odd size is padded by repeating the last
    column/row, so the video is at most one pixel wider/taller than the frames. The file appears
    complete or not at all (written under a temporary name, then renamed). Accepts anything numpy
    turns into such an array (e.g. a CPU torch tensor). Returns `path`.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in WRITABLE_EXTENSIONS:
        what = suffix or "a name without extension"
        raise VideoError(
            path, f"cannot write {what} (writable: {', '.join(WRITABLE_EXTENSIONS)})", "encode_failed"
        )
    frames = np.asarray(frames)
    if frames.dtype != np.uint8:
        raise VideoError(path, f"frames must be uint8 RGB, got dtype {frames.dtype}", "encode_failed")
    if frames.ndim != 4 or frames.shape[-1] != 3 or 0 in frames.shape:
        raise VideoError(
            path, f"frames must have shape (T, H, W, 3), T, H, W > 0; got {frames.shape}", "encode_failed"
        )
    if not (fps > 0 and np.isfinite(fps)):
        raise VideoError(path, f"fps must be a positive number, got {fps}", "encode_failed")
    if suffix == ".mp4":
        frames = _pad_to_even(frames)
    _, height, width, _ = frames.shape
    size, rate = f"{width}x{height}", fps_string(fps)
    source = ffmpeg.input("pipe:", format="rawvideo", pix_fmt="rgb24", s=size, framerate=rate)
    try:
        with replacing(path) as partial:
            spec = (
                _mp4_output(source, partial, fps, crf) if suffix == ".mp4" else _gif_output(source, partial)
            )
            run_ffmpeg(spec, input_bytes=np.ascontiguousarray(frames).tobytes())
    except LampError as exc:
        raise VideoError(path, str(exc), "encode_failed") from None
    except OSError as exc:
        raise VideoError(path, f"cannot write the file ({exc.strerror})", "encode_failed") from None
    return path


def _pad_to_even(frames: np.ndarray) -> np.ndarray:
    _, height, width, _ = frames.shape
    pad_h, pad_w = height % 2, width % 2
    if not (pad_h or pad_w):
        return frames
    return np.pad(frames, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode="edge")


def _mp4_output(source: ffmpeg.nodes.FilterableStream, out: Path, fps: float, crf: int) -> ffmpeg.nodes.Node:
    return source.output(
        file_url(out),
        format="mp4",
        vcodec="libx264",
        pix_fmt="yuv420p",
        crf=crf,
        r=fps_string(fps),
        movflags="+faststart",
        **BITEXACT_OUTPUT,
    )


def _gif_output(source: ffmpeg.nodes.FilterableStream, out: Path) -> ffmpeg.nodes.Node:
    # One palette for the whole clip (stats over all frames), so colours do not flicker between frames.
    split = source.split()
    palette = split[0].filter("palettegen", stats_mode="full", reserve_transparent=0)
    gif = ffmpeg.filter([split[1], palette], "paletteuse", dither="bayer", bayer_scale=3)
    return gif.output(file_url(out), format="gif", loop=0, **BITEXACT_OUTPUT)
