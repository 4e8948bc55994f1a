"""Writing frames as a video file: the one place the project writes videos (MP4/H.264 and GIF), and
normalising a user's video to the project's frame rate, size and codec."""

from __future__ import annotations

import math
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import ffmpeg
import numpy as np

from lamp_core.atomic_write import replacing
from lamp_core.errors import LampError, VideoError
from lamp_core.video.probe import BITEXACT_OUTPUT, VideoInfo, count_frames, file_url, fps_string, run_ffmpeg

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


# Normalising a video with ffmpeg: constant fps, W x H by scale-to-cover and centre-crop, no audio.
#
# One ffmpeg run decodes the source once and writes every segment of it (long videos are split into
# several clips) as an H.264/yuv420p MP4. ffmpeg applies the rotation a phone recorded (autorotate), so
# portrait phone videos come out upright. Encodes are bit-exact: the same source gives the same bytes.


@dataclass(frozen=True)
class NormaliseSpec:
    """What normalised clips look like."""

    width: int
    height: int
    fps: float
    crf: int  # H.264 quality, lower is better
    timeout: float  # seconds one ffmpeg run may take
    max_pixels: int | None = None  # ffmpeg refuses to decode frames larger than this (None: no limit)


@dataclass(frozen=True)
class Segment:
    """Frames [start, stop) of the source at the normalised frame rate, to be written to `path`."""

    start: int
    stop: int
    path: Path


@dataclass(frozen=True)
class NormaliseResult:
    """Frames actually written to each segment's file, and what ffmpeg warned about (decode errors)."""

    frame_counts: list[int]
    warnings: str


def plan_segments(n_frames: int, max_frames: int | None, min_frames: int) -> list[tuple[int, int]]:
    """Split `n_frames` into equal consecutive `(start, stop)` segments of at most `max_frames` frames.

    Equal lengths avoid a short tail segment; each segment has at least `min_frames` frames; frames
    left over at the end are dropped. Returns [] when `n_frames < min_frames`.
    """
    if min_frames < 1:
        raise ValueError(f"min_frames must be at least 1, got {min_frames}")
    if max_frames is not None and max_frames < min_frames:
        raise ValueError(f"max_frames ({max_frames}) is shorter than min_frames ({min_frames})")
    if n_frames < min_frames:
        return []
    n_segments = 1 if max_frames is None else math.ceil(n_frames / max_frames)
    n_segments = min(n_segments, n_frames // min_frames)
    length = n_frames // n_segments if max_frames is None else min(n_frames // n_segments, max_frames)
    return [(k * length, (k + 1) * length) for k in range(n_segments)]


def normalise_video(info: VideoInfo, segments: Sequence[Segment], spec: NormaliseSpec) -> NormaliseResult:
    """Write each segment of the probed video `info` as a normalised clip; return the frames written.

    Files appear under their final names only when ffmpeg succeeded; on failure none are left behind.
    """
    if not segments:
        raise ValueError("no segments to write")
    try:
        with ExitStack() as replaced:  # every clip replaces its file only when all of them were written
            partials = [replaced.enter_context(replacing(seg.path)) for seg in segments]
            warnings = run_ffmpeg(_command(info, segments, partials, spec), timeout=spec.timeout)
            counts = [count_frames(partial) for partial in partials]
    except LampError as exc:
        raise VideoError(info.path, str(exc), "normalise_failed") from None
    return NormaliseResult(frame_counts=counts, warnings=warnings)


def _command(
    info: VideoInfo, segments: Sequence[Segment], outputs: Sequence[Path], spec: NormaliseSpec
) -> ffmpeg.nodes.Node:
    input_options = {} if spec.max_pixels is None else {"max_pixels": str(spec.max_pixels)}
    rate = fps_string(spec.fps)
    shrinking = info.display_width >= spec.width and info.display_height >= spec.height
    video = (
        ffmpeg.input(file_url(info.path), **input_options)
        .video.filter("fps", fps=rate)
        .filter(
            "scale",
            spec.width,
            spec.height,
            force_original_aspect_ratio="increase",
            flags="area" if shrinking else "bicubic",
        )
        .filter("crop", spec.width, spec.height)
        .filter("setsar", 1)
    )
    branches = [video] if len(segments) == 1 else list(_split(video, len(segments)))
    encoded = [
        branch.trim(start_frame=seg.start, end_frame=seg.stop)
        .setpts("PTS-STARTPTS")
        .output(
            file_url(out),
            format="mp4",
            vcodec="libx264",
            pix_fmt="yuv420p",
            crf=spec.crf,
            r=rate,
            an=None,
            sn=None,
            dn=None,
            **BITEXACT_OUTPUT,
        )
        for branch, seg, out in zip(branches, segments, outputs, strict=True)
    ]
    return ffmpeg.merge_outputs(*encoded)


def _split(stream: ffmpeg.nodes.FilterableStream, n: int) -> list[ffmpeg.nodes.FilterableStream]:
    node = stream.split()
    return [node[k] for k in range(n)]
