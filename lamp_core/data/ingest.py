"""Ingest: a motion's raw videos -> normalised clips and a manifest with one row per input file (the
manifest's format is at the top of this module).

Every file of the raw folder gets a manifest row: accepted files are normalised (constant fps, W x H by
scale-to-cover and centre-crop, split when long, audio dropped) into `<clips>/<name>-<hash>-<k>.mp4`;
anything else is rejected with a named reason and a one-line warning, and the rest is still processed.
Ingest fails (after writing the manifest) only when fewer usable clips than `min_clips` remain.

Re-running is incremental: a file whose content, name and settings are unchanged keeps its clips (their
hashes are checked), so adding one video re-encodes only that video. Output names are made from a
sanitised name plus a content hash and are only ever created inside the clips folder.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import math
import os
import re
import unicodedata
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from lamp_core.atomic_write import write_text_if_changed
from lamp_core.data.captions import SIDECAR_NAME, read_sidecar_captions, sidecar_caption
from lamp_core.errors import LampError, VideoError
from lamp_core.params import PARAMS_FILE, MotionConfig, read_settings
from lamp_core.paths import MANIFEST_FILE
from lamp_core.video import (
    NormaliseSpec,
    Segment,
    VideoInfo,
    ffmpeg_version,
    is_video_name,
    normalise_video,
    plan_segments,
    probe_video,
    seconds_to_frames,
)

# The ingest manifest: one row per input file of a motion, what it is and what became of it.

STATUS_OK = "ok"
STATUS_REJECTED = "rejected"


@dataclass
class ManifestRow:
    """One input file. `source` is its path relative to the motion's raw folder (POSIX separators).

    `reason` is `<code>: <why>` for a rejected file, notes (e.g. resampled, rotated) for an accepted one;
    `clips` are the normalised clip files (names in the clips folder) made from it.
    """

    source: str
    sha256: str = ""
    container: str = ""
    codec: str = ""
    width: int | None = None
    height: int | None = None
    rotation: int | None = None
    fps: float | None = None
    vfr: bool | None = None
    n_frames: int | None = None
    duration: float | None = None
    audio: bool | None = None
    status: str = STATUS_REJECTED
    reason: str = ""
    clips: list[str] = field(default_factory=list)
    caption: str = ""

    @property
    def ok(self) -> bool:
        return self.status == STATUS_OK


COLUMNS = tuple(f.name for f in fields(ManifestRow))


def write_manifest(path: str | Path, rows: list[ManifestRow]) -> None:
    """Write `rows` to `path` as CSV, atomically; an unchanged manifest is left untouched."""
    path = Path(path)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows([_cell(getattr(row, name)) for name in COLUMNS] for row in rows)
    write_text_if_changed(path, buffer.getvalue())


def read_manifest(path: str | Path) -> list[ManifestRow]:
    """Read a manifest written by `write_manifest`; LampError names the file and the problem."""
    path = Path(path)
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle)
            records = list(reader)
            header = reader.fieldnames or ()
    except FileNotFoundError:
        raise LampError(path, "no manifest (run the ingest stage first)") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise LampError(path, f"cannot read the manifest ({exc})") from None
    missing = [name for name in COLUMNS if name not in header]
    if missing:
        raise LampError(path, f"not an ingest manifest: columns {', '.join(missing)} are missing")
    try:
        return [_row(record) for record in records]
    except (TypeError, ValueError) as exc:
        raise LampError(path, f"malformed value ({exc})") from None


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, list):
        return ";".join(value)
    return str(value)


def _row(record: dict[str, str]) -> ManifestRow:
    def number(name: str, kind: type) -> int | float | None:
        text = record[name]
        return kind(text) if text != "" else None

    def flag(name: str) -> bool | None:
        text = record[name]
        return None if text == "" else text == "true"

    return ManifestRow(
        source=record["source"],
        sha256=record["sha256"],
        container=record["container"],
        codec=record["codec"],
        width=number("width", int),
        height=number("height", int),
        rotation=number("rotation", int),
        fps=number("fps", float),
        vfr=flag("vfr"),
        n_frames=number("n_frames", int),
        duration=number("duration", float),
        audio=flag("audio"),
        status=record["status"],
        reason=record["reason"],
        clips=[name for name in record["clips"].split(";") if name],
        caption=record["caption"],
    )


logger = logging.getLogger(__name__)

STATE_NAME = "ingest_state.json"
RECOMMENDED_CLIPS = 8  # the method wants 8-16 videos of a motion
# Rejections that depend on more than the file's bytes: permissions may be fixed, the original of a
# duplicate removed, a FIFO replaced by a file.
_ALWAYS_RECHECKED = frozenset({"unreadable", "duplicate", "not_a_file"})
# Fewer decoded frames than this fraction of the planned ones means the file is broken.
_MIN_DECODED_FRACTION = 0.9


@dataclass(frozen=True)
class IngestSettings:
    """Everything that decides what ingest makes of a file (a change re-ingests every file)."""

    width: int
    height: int
    fps: float
    window_frames: int  # frames one training window spans: (n_frames - 1) * sample_rate + 1
    max_clip_frames: int | None  # longer videos are split; None: never split
    min_clips: int
    crf: int  # the rest: the `ingest:` section of params.yaml
    max_source_pixels: int
    timeout_s: float

    @classmethod
    def from_params(cls, params: dict[str, Any], motion: MotionConfig) -> IngestSettings:
        """The settings of `motion`: its MotionConfig plus the `ingest:` section of params.yaml."""
        section = params.get("ingest") or {}
        if not isinstance(section, dict):
            raise LampError(PARAMS_FILE, f"`ingest` must be a mapping of settings, not {section!r}")
        window = (motion.n_frames - 1) * motion.sample_rate + 1
        max_frames = None
        if motion.max_clip_seconds and motion.max_clip_seconds > 0:
            max_frames = math.floor(motion.max_clip_seconds * motion.fps)
            if max_frames < window:
                raise LampError(
                    f"params.yaml: motion {motion.name!r}: max_clip_seconds={motion.max_clip_seconds} gives "
                    f"{max_frames} frames at {motion.fps:g} fps, fewer than one training window ({window})"
                )
        derived = {
            "width": motion.width,
            "height": motion.height,
            "fps": motion.fps,
            "window_frames": window,
            "max_clip_frames": max_frames,
            "min_clips": motion.min_clips,
        }
        if set(section) & set(derived):  # these come from `defaults:`/`motions:`, not from `ingest:`
            keys = ", ".join(f"`ingest.{key}`" for key in sorted(set(section) & set(derived)))
            raise LampError(PARAMS_FILE, f"unknown key {keys} (known: crf, max_source_pixels, timeout_s)")
        return read_settings(cls, {**section, **derived}, "ingest")

    def fingerprint(self) -> dict[str, Any]:
        """The settings that decide the clips' content, and the ffmpeg that made them."""
        record = asdict(self)
        del record["min_clips"], record["timeout_s"]
        return {**record, "ffmpeg": ffmpeg_version()}

    def normalise_spec(self) -> NormaliseSpec:
        return NormaliseSpec(
            width=self.width,
            height=self.height,
            fps=self.fps,
            crf=self.crf,
            max_pixels=self.max_source_pixels,
            timeout=self.timeout_s,
        )


@dataclass(frozen=True)
class IngestReport:
    """What one ingest run did."""

    rows: list[ManifestRow]
    n_clips: int  # usable clips
    reused: int  # accepted files whose clips were kept from the previous run

    @property
    def rejected(self) -> list[ManifestRow]:
        return [row for row in self.rows if not row.ok]


def ingest_motion(raw_dir: str | Path, clips_dir: str | Path, settings: IngestSettings) -> IngestReport:
    """Ingest every file of `raw_dir` into `clips_dir` (clips + manifest.csv); see the module docstring.

    Raises LampError for a missing or empty raw folder, and (after writing the manifest) when fewer
    than `settings.min_clips` usable clips result.
    """
    raw_dir, clips_dir = Path(raw_dir), Path(clips_dir)
    if not raw_dir.exists():
        raise LampError(raw_dir, "folder does not exist: put 8-16 videos of the motion there")
    if not raw_dir.is_dir():
        raise LampError(raw_dir, "not a folder")
    sources = list_sources(raw_dir)
    if not sources:
        raise LampError(raw_dir, "the folder holds no videos: put 8-16 videos of the motion there")
    sidecar = raw_dir / SIDECAR_NAME
    captions = read_sidecar_captions(sidecar) if sidecar.is_file() else {}
    _warn_unmatched_captions(sidecar, captions, sources)

    clips_dir.mkdir(parents=True, exist_ok=True)
    previous = _PreviousRun.load(clips_dir, settings)
    rows: list[ManifestRow] = []
    accepted_hashes: dict[str, str] = {}
    reused = 0
    for source in sources:
        row = previous.reusable_row(raw_dir, clips_dir, source)
        if row is not None and row.ok and row.sha256 in accepted_hashes:
            row = None  # now a duplicate of a file listed before it
        if row is None:
            row = _ingest_file(raw_dir, source, clips_dir, settings, accepted_hashes)
        else:
            reused += row.ok
        row.caption = sidecar_caption(captions, source)
        if row.ok:
            accepted_hashes[row.sha256] = source
            notes = f" ({row.reason})" if row.reason else ""
            logger.info("ok %s -> %d clip(s)%s", source, len(row.clips), notes)
        else:
            logger.warning("rejected %s: %s", source, row.reason)
        rows.append(row)

    _remove_stale_clips(clips_dir, rows)
    write_manifest(clips_dir / MANIFEST_FILE, rows)
    _write_state(clips_dir, settings, rows)
    report = IngestReport(rows=rows, n_clips=sum(len(row.clips) for row in rows), reused=reused)
    _check_enough(raw_dir, clips_dir, report, settings.min_clips)
    return report


def list_sources(raw_dir: Path) -> list[str]:
    """Files under `raw_dir` (recursively) as sorted POSIX paths relative to it.

    Hidden files and folders (starting with `.`) and the sidecar captions.csv are not sources.
    """
    found = []
    for folder, dirs, files in os.walk(raw_dir):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in files:
            if name.startswith("."):
                continue
            relative = (Path(folder) / name).relative_to(raw_dir).as_posix()
            if relative != SIDECAR_NAME:
                found.append(relative)
    return sorted(found)


def clip_stem(source: str, sha256: str) -> str:
    """A safe, unique stem for the clips of `source`: ASCII slug of its name + 12 hex of its content hash.

    Only [A-Za-z0-9._-], never starting with `-` or `.`, so the name is harmless everywhere.
    """
    name = source.rsplit(".", 1)[0] if "." in source.rsplit("/", 1)[-1] else source
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", ascii_name).strip("._-")[:48].strip("._-") or "video"
    return f"{slug}-{sha256[:12]}"


def _ingest_file(
    raw_dir: Path, source: str, clips_dir: Path, settings: IngestSettings, accepted: dict[str, str]
) -> ManifestRow:
    path = raw_dir / source
    row = ManifestRow(source=source)
    if not is_video_name(path):
        suffix = path.suffix.lower() or "no extension"
        return _reject(row, "unsupported_extension", f"{suffix} is not a video file extension")
    if not path.is_file():  # a FIFO, socket or broken link: never read it (a FIFO would block)
        return _reject(row, "not_a_file", "not a regular file (or a broken link)")
    try:
        row.sha256 = _file_sha256(path)
    except PermissionError:
        return _reject(row, "unreadable", "permission denied: the file is not readable")
    except OSError as exc:
        return _reject(row, "unreadable", f"cannot read the file ({exc.strerror})")
    if row.sha256 in accepted:
        return _reject(row, "duplicate", f"same content as {accepted[row.sha256]}")
    try:
        info = probe_video(path, max_pixels=settings.max_source_pixels)
    except VideoError as exc:
        return _reject(row, exc.code, exc.reason)
    _describe(row, info)

    planned = seconds_to_frames(info.duration, settings.fps)
    spans = plan_segments(planned, settings.max_clip_frames, settings.window_frames)
    if not spans:
        return _reject(
            row,
            "too_short",
            f"{info.duration:.2f} s gives {planned} frames at {settings.fps:g} fps; "
            f"one training window needs {settings.window_frames}",
        )
    stem = clip_stem(source, row.sha256)
    segments = [Segment(a, b, clips_dir / f"{stem}-{k:02d}.mp4") for k, (a, b) in enumerate(spans)]
    try:
        result = normalise_video(info, segments, settings.normalise_spec())
    except VideoError as exc:
        return _reject(row, exc.code, exc.reason)

    wanted = sum(b - a for a, b in spans)
    if sum(result.frame_counts) < _MIN_DECODED_FRACTION * wanted:
        _unlink(segments)
        return _reject(row, "corrupt", f"only {sum(result.frame_counts)} of {wanted} frames decode")
    short = [seg for seg, n in zip(segments, result.frame_counts, strict=True) if n < settings.window_frames]
    _unlink(short)
    row.clips = [seg.path.name for seg in segments if seg not in short]
    if not row.clips:
        return _reject(
            row, "too_short", f"no clip holds one training window ({settings.window_frames} frames)"
        )
    row.status = STATUS_OK
    row.reason = "; ".join(_notes(info, settings, len(row.clips), len(short), result.warnings))
    return row


def _describe(row: ManifestRow, info: VideoInfo) -> None:
    row.container, row.codec = info.container, info.codec
    row.width, row.height, row.rotation = info.width, info.height, info.rotation
    row.fps, row.vfr, row.n_frames = info.fps, info.variable_frame_rate, info.n_frames
    row.duration, row.audio = info.duration, info.has_audio


def _notes(info: VideoInfo, settings: IngestSettings, n_clips: int, n_short: int, warnings: str) -> list[str]:
    notes = []
    if info.variable_frame_rate:
        notes.append(f"variable frame rate resampled to {settings.fps:g} fps")
    if info.rotation:
        notes.append(f"rotated by {info.rotation} degrees as recorded")
    if n_clips > 1:
        notes.append(f"split into {n_clips} clips")
    if n_short:
        notes.append(f"dropped {n_short} clip(s) shorter than a training window")
    if info.has_audio:
        notes.append("audio dropped")
    if warnings:
        notes.append(f"ffmpeg warned: {warnings.splitlines()[-1][:120]}")
    return notes


def _reject(row: ManifestRow, code: str, reason: str) -> ManifestRow:
    row.status = STATUS_REJECTED
    row.reason = f"{code}: {reason}"
    row.clips = []
    return row


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _unlink(segments: list[Segment]) -> None:
    for seg in segments:
        seg.path.unlink(missing_ok=True)


def _write_state(clips_dir: Path, settings: IngestSettings, rows: list[ManifestRow]) -> None:
    """Settings and clip hashes of this run: the next run reuses clips only if both still match."""
    clips = {name: _file_sha256(clips_dir / name) for row in rows for name in row.clips}
    state = {"settings": settings.fingerprint(), "clips": clips}
    write_text_if_changed(clips_dir / STATE_NAME, json.dumps(state, indent=1, sort_keys=True) + "\n")


@dataclass(frozen=True)
class _PreviousRun:
    """The manifest rows and clip hashes of the previous run, if it used the same settings."""

    rows: dict[str, ManifestRow]
    clip_hashes: dict[str, str]

    @classmethod
    def load(cls, clips_dir: Path, settings: IngestSettings) -> _PreviousRun:
        try:
            state = json.loads((clips_dir / STATE_NAME).read_text(encoding="utf-8"))
            rows = read_manifest(clips_dir / MANIFEST_FILE)
        except (OSError, ValueError):
            return cls({}, {})
        if not isinstance(state, dict) or state.get("settings") != settings.fingerprint():
            return cls({}, {})
        return cls({row.source: row for row in rows}, dict(state.get("clips") or {}))

    def reusable_row(self, raw_dir: Path, clips_dir: Path, source: str) -> ManifestRow | None:
        """The previous row of `source` if the file and its clips are unchanged, else None."""
        row = self.rows.get(source)
        if row is None or row.reason.split(":", 1)[0] in _ALWAYS_RECHECKED:
            return None
        if row.ok and not all(self._intact(clips_dir / name) for name in row.clips):
            return None
        path = raw_dir / source
        if not path.is_file():  # never open a FIFO or a broken link
            return None
        try:
            return row if _file_sha256(path) == row.sha256 else None
        except OSError:
            return None

    def _intact(self, clip: Path) -> bool:
        return clip.is_file() and self.clip_hashes.get(clip.name) == _file_sha256(clip)


def _remove_stale_clips(clips_dir: Path, rows: list[ManifestRow]) -> None:
    """Delete clips (and leftovers of interrupted runs) that no current row lists."""
    keep = {name for row in rows for name in row.clips}
    for path in clips_dir.iterdir():
        stale_clip = path.suffix == ".mp4" and path.name not in keep
        if path.is_file() and (stale_clip or path.name.endswith(".partial")):
            path.unlink()


def _warn_unmatched_captions(sidecar: Path, captions: dict[str, str], sources: list[str]) -> None:
    known = {s for source in sources for s in (source, source.rsplit("/", 1)[-1])}
    unmatched = sorted(name for name in captions if name not in known)
    if unmatched:
        logger.warning(
            "%s: captions for files that are not in the folder: %s", sidecar, ", ".join(unmatched[:5])
        )


def _check_enough(raw_dir: Path, clips_dir: Path, report: IngestReport, min_clips: int) -> None:
    rejected = report.rejected
    summary = f"{report.n_clips} usable clip(s) from {len(report.rows)} file(s)"
    if rejected:
        reasons: dict[str, int] = {}
        for row in rejected:
            code = row.reason.split(":", 1)[0]
            reasons[code] = reasons.get(code, 0) + 1
        summary += ", rejected: " + ", ".join(f"{n} {code}" for code, n in sorted(reasons.items()))
    if report.n_clips < min_clips:
        raise LampError(
            raw_dir,
            f"only {summary}; at least min_clips={min_clips} are needed (see {clips_dir / MANIFEST_FILE})",
        )
    if report.n_clips < RECOMMENDED_CLIPS:
        logger.warning("%s: %s; the method wants %d-16", raw_dir, summary, RECOMMENDED_CLIPS)
    else:
        logger.info("%s: %s", raw_dir, summary)
