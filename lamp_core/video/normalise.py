"""Normalising a video with ffmpeg: constant fps, W x H by scale-to-cover and centre-crop, no audio.

One ffmpeg run decodes the source once and writes every segment of it (long videos are split into
several clips) as an H.264/yuv420p MP4. ffmpeg applies the rotation a phone recorded (autorotate), so
portrait phone videos come out upright. Encodes are bit-exact: the same source gives the same bytes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import ffmpeg

from lamp_core.atomic_write import replacing
from lamp_core.errors import LampError, VideoError
from lamp_core.video.ffmpeg_cli import BITEXACT_OUTPUT, file_url, fps_string, run_ffmpeg
from lamp_core.video.probe import VideoInfo, count_frames


@dataclass(frozen=True)
class NormaliseSpec:
    """What normalised clips look like."""

    width: int
    height: int
    fps: float
    crf: int = 18  # H.264 quality, lower is better
    max_pixels: int | None = None  # ffmpeg refuses to decode frames larger than this
    timeout: float = 600.0  # seconds one ffmpeg run may take


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
