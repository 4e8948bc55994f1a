"""Probing a video file with PyAV: what it is, without decoding more than its first frame; and running
the ffmpeg binary (where it comes from, with a time limit and the error named).

The probe reads the container's packets (demuxing is cheap) to count frames, measure the duration, and
tell a constant frame rate from a variable one; it decodes one frame only, to learn the rotation a
player applies (phone videos) and to prove the stream decodes at all. Nothing is decoded before the frame
size is checked against `max_pixels`, so a huge video cannot exhaust memory here.
"""

from __future__ import annotations

import errno
import functools
import math
import stat
import subprocess
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import ffmpeg
import imageio_ffmpeg
import numpy as np

from lamp_core.errors import LampError, VideoError

# Running the ffmpeg binary of imageio-ffmpeg on commands built with ffmpeg-python.
#
# File names never reach a shell: commands are argument lists. Every path is passed as `file:<absolute
# path>`, so neither a leading `-` (an option) nor a `name:` prefix (a protocol) can be misread.

# Output options that make encodes byte-identical from run to run on the same ffmpeg build.
BITEXACT_OUTPUT = {"fflags": "+bitexact", "flags:v": "+bitexact", "map_metadata": "-1", "threads": 1}


@functools.cache
def ffmpeg_exe() -> str:
    """Path of the ffmpeg binary bundled with imageio-ffmpeg."""
    return imageio_ffmpeg.get_ffmpeg_exe()


@functools.cache
def ffmpeg_version() -> str:
    """The bundled ffmpeg's version line, e.g. `ffmpeg version n9.0.2-...`."""
    done = subprocess.run([ffmpeg_exe(), "-hide_banner", "-version"], capture_output=True, text=True)
    return done.stdout.splitlines()[0].strip() if done.stdout else "unknown"


def file_url(path: str | Path) -> str:
    """`path` as an unambiguous ffmpeg URL: `file:` + absolute path."""
    return "file:" + str(Path(path).absolute())


def fps_string(fps: float) -> str:
    """An fps as the exact ratio ffmpeg expects, e.g. 8 -> '8', 29.97 -> '30000/1001'."""
    ratio = Fraction(fps).limit_denominator(1001)
    return str(ratio.numerator) if ratio.denominator == 1 else f"{ratio.numerator}/{ratio.denominator}"


def run_ffmpeg(spec: ffmpeg.nodes.Node, *, input_bytes: bytes | None = None, timeout: float = 600.0) -> str:
    """Run an ffmpeg-python output spec with the bundled binary; return ffmpeg's stderr (warnings).

    Raises LampError with ffmpeg's last error line when it exits non-zero or runs past `timeout` s.
    """
    args = (
        spec.global_args("-nostdin", "-hide_banner", "-loglevel", "error")
        .overwrite_output()
        .compile(cmd=ffmpeg_exe())
    )
    try:
        done = subprocess.run(
            args,
            input=input_bytes,
            stdin=None if input_bytes is not None else subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        raise LampError(f"ffmpeg ran longer than {timeout:.0f} s") from None
    stderr = done.stderr.decode("utf-8", errors="replace").strip()
    if done.returncode != 0:
        last = stderr.splitlines()[-1] if stderr else f"exit status {done.returncode}"
        raise LampError(f"ffmpeg failed: {last}")
    return stderr


# File name extensions taken as videos (lower case, with the dot).
VIDEO_EXTENSIONS = frozenset(
    {
        ".3g2", ".3gp", ".asf", ".avi", ".dv", ".f4v", ".flv", ".gif", ".m2ts", ".m2v", ".m4v", ".mj2",
        ".mkv", ".mov", ".mp4", ".mpeg", ".mpg", ".mts", ".mxf", ".nut", ".ogv", ".qt", ".ts", ".vob",
        ".webm", ".wmv", ".y4m",
    }
)  # fmt: skip

# A video whose packets stop this much short of its declared length is taken as truncated.
_TRUNCATION_TOLERANCE = 0.9
# Relative spread of frame durations above which a stream counts as variable frame rate.
_VFR_TOLERANCE = 0.2

_IMAGE_MAGIC = {
    b"\x89PNG\r\n\x1a\n": "PNG",
    b"\xff\xd8\xff": "JPEG",
    b"BM": "BMP",
    b"II*\x00": "TIFF",
    b"MM\x00*": "TIFF",
}


@dataclass(frozen=True)
class VideoInfo:
    """What a probe learnt about a video file. Sizes are as stored; `display_*` apply the rotation."""

    path: Path
    container: str  # ffmpeg's demuxer name, e.g. "matroska,webm"
    codec: str  # ffmpeg's decoder name of the video stream, e.g. "h264"
    width: int
    height: int
    rotation: int  # degrees counter-clockwise a player rotates the picture by: 0, 90, 180 or 270
    fps: float  # average frame rate: frames / duration
    variable_frame_rate: bool
    n_frames: int  # frames in the video stream, counted from its packets
    duration: float  # seconds spanned by the video stream's frames
    has_audio: bool

    @property
    def display_width(self) -> int:
        return self.height if self.rotation in (90, 270) else self.width

    @property
    def display_height(self) -> int:
        return self.width if self.rotation in (90, 270) else self.height


def probe_video(path: str | Path, *, max_pixels: int | None = None) -> VideoInfo:
    """Probe `path`; raise VideoError (with a `code`) when it is not a usable video.

    Codes: `missing`, `not_a_file`, `empty`, `unreadable`, `not_a_video`, `image_file`, `no_video`,
    `too_large` (more than `max_pixels` per frame), `truncated`, `corrupt`.
    """
    path = Path(path)
    _check_file(path)
    try:
        container = av.open(file_url(path), metadata_errors="replace")
    except (av.error.FFmpegError, OSError) as exc:
        raise _open_failure(path, exc) from None
    with container:
        return _probe_container(path, container, max_pixels)


def count_frames(path: str | Path) -> int:
    """Number of frames of the first video stream, from the container's index or its packets."""
    path = Path(path)
    try:
        with av.open(file_url(path)) as container:
            if not container.streams.video:
                raise VideoError(path, "no video stream", "no_video")
            stream = container.streams.video[0]
            if stream.frames > 0:
                return int(stream.frames)
            return sum(1 for packet in container.demux(stream) if packet.size > 0)
    except av.error.FFmpegError as exc:
        raise VideoError(path, f"cannot read frames ({_ffmpeg_message(exc)})", "corrupt") from None


def _check_file(path: Path) -> None:
    try:
        info = path.stat()
    except FileNotFoundError:
        raise VideoError(path, "file does not exist", "missing") from None
    except OSError as exc:
        raise VideoError(path, f"cannot read file ({exc.strerror})", "unreadable") from None
    if not stat.S_ISREG(info.st_mode):
        raise VideoError(path, "not a regular file", "not_a_file")
    if info.st_size == 0:
        raise VideoError(path, "empty file (0 bytes)", "empty")
    try:
        with path.open("rb"):
            pass
    except PermissionError:
        raise VideoError(path, "permission denied: the file is not readable", "unreadable") from None
    except OSError as exc:
        raise VideoError(path, f"cannot read file ({exc.strerror})", "unreadable") from None


def _probe_container(path: Path, container: av.container.InputContainer, max_pixels: int | None) -> VideoInfo:
    fmt = container.format.name
    if fmt.endswith("_pipe") or fmt in ("image2", "apng"):
        raise VideoError(path, f"an image ({fmt.removesuffix('_pipe')}), not a video", "image_file")
    videos = [s for s in container.streams.video if not s.disposition & av.stream.Disposition.attached_pic]
    has_audio = bool(container.streams.audio)
    if not videos:
        what = "audio only" if has_audio else "no audio either"
        raise VideoError(path, f"no video stream ({what})", "no_video")
    stream = videos[0]
    width, height = int(stream.width or 0), int(stream.height or 0)
    if width <= 0 or height <= 0:
        codec = stream.codec_context.name
        raise VideoError(path, f"the video stream ({codec}) has no frame size", "corrupt")
    if max_pixels is not None and width * height > max_pixels:
        raise VideoError(
            path, f"{width}x{height} is larger than the limit of {max_pixels} pixels per frame", "too_large"
        )

    pts, durations, rotation, stream_ends = _scan_packets(path, container, stream)
    if not pts:
        raise VideoError(path, "the video stream holds no frames", "truncated")
    time_base = float(stream.time_base)
    order = np.sort(np.asarray(pts, dtype=np.int64))
    deltas = np.diff(order)
    last_duration = durations[int(np.argmax(pts))] or (int(np.median(deltas)) if deltas.size else 0)
    duration = float(order[-1] - order[0] + last_duration) * time_base
    if duration <= 0:
        rate = stream.average_rate or stream.guessed_rate
        duration = len(pts) / float(rate) if rate else 0.0
    if duration <= 0:
        raise VideoError(path, "cannot tell the video's duration (no timestamps)", "corrupt")
    variable = bool(
        deltas.size >= 2
        and np.max(np.abs(deltas - np.median(deltas))) > max(_VFR_TOLERANCE * np.median(deltas), 1)
    )
    start = container.start_time / 1e6 if container.start_time is not None else 0.0
    _check_complete(path, container, int(stream.frames or 0), len(pts), max(stream_ends, default=0.0) - start)
    return VideoInfo(
        path=path,
        container=fmt,
        codec=stream.codec_context.name,
        width=width,
        height=height,
        rotation=rotation,
        fps=len(pts) / duration,
        variable_frame_rate=variable,
        n_frames=len(pts),
        duration=duration,
        has_audio=has_audio,
    )


def _scan_packets(
    path: Path, container: av.container.InputContainer, stream: av.video.stream.VideoStream
) -> tuple[list[int], list[int], int, list[float]]:
    """Demux every packet; decode only until the first video frame (for its rotation)."""
    pts: list[int] = []
    durations: list[int] = []
    ends: dict[int, float] = {}
    rotation: int | None = None
    try:
        for packet in container.demux():
            if packet.size == 0:
                continue
            stamp = packet.pts if packet.pts is not None else packet.dts
            if stamp is not None and packet.time_base is not None:
                end = float((stamp + (packet.duration or 0)) * packet.time_base)
                ends[packet.stream_index] = max(ends.get(packet.stream_index, 0.0), end)
            if packet.stream_index != stream.index:
                continue
            if stamp is None:
                stamp = len(pts)  # no timestamps at all (raw streams): one tick per frame
            pts.append(int(stamp))
            durations.append(int(packet.duration or 0))
            if rotation is None:
                frames = packet.decode()
                if frames:
                    rotation = _quarter_turns(frames[0].rotation)
    except av.error.FFmpegError as exc:
        message = _ffmpeg_message(exc)
        if not pts or rotation is None:
            raise VideoError(path, f"cannot decode the video ({message})", "corrupt") from None
        reason = f"the file breaks off after {len(pts)} frames ({message})"
        raise VideoError(path, reason, "truncated") from None
    if pts and rotation is None:
        rotation = _flush_rotation(path, stream)
    return pts, durations, rotation or 0, list(ends.values())


def _flush_rotation(path: Path, stream: av.video.stream.VideoStream) -> int:
    """Frames held back by the decoder (short clips with B-frames) come out when it is flushed."""
    try:
        frames = stream.decode(None)
    except av.error.FFmpegError as exc:
        raise VideoError(path, f"cannot decode the video ({_ffmpeg_message(exc)})", "corrupt") from None
    if not frames:
        raise VideoError(path, "no frame of the video stream decodes", "corrupt")
    return _quarter_turns(frames[0].rotation)


def _quarter_turns(degrees: float) -> int:
    """A rotation snapped to 0, 90, 180 or 270 degrees."""
    return round(degrees / 90.0) % 4 * 90


def _check_complete(
    path: Path, container: av.container.InputContainer, declared_frames: int, n: int, end: float
) -> None:
    """Compare what the packets hold with what the container declares (frame count, duration)."""
    if declared_frames > 0 and n < _TRUNCATION_TOLERANCE * declared_frames - 1:
        reason = f"cut short: {n} of the {declared_frames} frames its index declares are present"
        raise VideoError(path, reason, "truncated")
    if container.duration and end > 0:
        declared = container.duration / 1e6
        if end < _TRUNCATION_TOLERANCE * declared - 0.25:
            raise VideoError(
                path, f"cut short: data ends at {end:.2f} s of the {declared:.2f} s it declares", "truncated"
            )


def _ffmpeg_message(exc: Exception) -> str:
    return (getattr(exc, "strerror", None) or str(exc)).rstrip(".")


def _open_failure(path: Path, exc: Exception) -> VideoError:
    """The error for a file ffmpeg cannot open: named after what its first bytes look like."""
    sniffed = _sniff(path)
    if sniffed is not None:
        reason, code = sniffed
        return VideoError(path, reason, code)
    if getattr(exc, "errno", None) == errno.EACCES:
        return VideoError(path, "permission denied: the file is not readable", "unreadable")
    return VideoError(path, f"not a video ffmpeg can read ({_ffmpeg_message(exc)})", "not_a_video")


def _sniff(path: Path) -> tuple[str, str] | None:
    """(reason, code) for common impostors, better words than ffmpeg's 'invalid data'; else None."""
    try:
        with path.open("rb") as handle:
            head = handle.read(4096)
    except OSError:
        return None
    for magic, name in _IMAGE_MAGIC.items():
        if head.startswith(magic):
            return f"an image ({name}), not a video", "image_file"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "an image (WebP), not a video", "image_file"
    if head[4:8] == b"ftyp":
        return "truncated or incomplete MP4/MOV: its index (moov atom) is missing", "truncated"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "truncated or corrupt Matroska/WebM file", "truncated"
    if _looks_like_text(head):
        return "a text file, not a video", "not_a_video"
    return None


def _looks_like_text(head: bytes) -> bool:
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return False
    printable = sum(ch.isprintable() or ch in "\r\n\t" for ch in text)
    return bool(text) and printable >= 0.95 * len(text)


def seconds_to_frames(seconds: float, fps: float) -> int:
    """Frames a constant-rate stream of `fps` shows in `seconds` (rounded to the nearest frame)."""
    return math.floor(seconds * fps + 0.5)


def is_video_name(path: str | Path) -> bool:
    """Whether the file name has a video extension (see VIDEO_EXTENSIONS)."""
    return Path(path).suffix.lower() in VIDEO_EXTENSIONS
