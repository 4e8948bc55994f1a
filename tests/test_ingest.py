"""Ingest of a raw folder holding real videos of many containers and every kind of bad input."""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from pipeline_settings import from_params

from lamp_core.data import IngestSettings, ingest_motion, read_manifest
from lamp_core.errors import LampError
from lamp_core.video import probe_video

SETTINGS = from_params(
    IngestSettings, "ingest", width=32, height=32, fps=8, window_frames=8, max_clip_frames=32, min_clips=4
)
REPO = Path(__file__).resolve().parents[1]

# Names no shell may ever see: each would run `touch PWNED...` if one did.
TRICKY_NAMES = [
    "-leading-dash.mp4",
    "$(touch PWNED).mp4",
    'quote\'s "double".mp4',
    "ünïcødé 日本.mp4",
    "semi;colon `touch PWNED2` & |x.mp4",
]
H264 = ("-c:v", "libx264", "-pix_fmt", "yuv420p")
VP9 = ("-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8")

EXPECTED_OK = {
    "clip 01 with spaces.mp4": 1,
    "vp9.webm": 1,
    "mjpeg.avi": 1,
    "ffv1.mkv": 1,
    "anim.gif": 1,
    "phone.mov": 1,
    "vfr.mp4": 1,
    "portrait.mp4": 1,
    "odd 33x27.mkv": 1,
    "long.mp4": 3,
    "sub/nested.mp4": 1,
    **dict.fromkeys(TRICKY_NAMES, 1),
}
EXPECTED_REJECTED = {
    "empty.mp4": "empty",
    "cut.mp4": "truncated",
    "cut fast.mp4": "truncated",
    "cut.webm": "truncated",
    "notes.mp4": "not_a_video",
    "photo.mov": "image_file",
    "short.mp4": "too_short",
    "song.mp4": "no_video",
    "bomb.gif": "too_large",
    "copy of clip.mp4": "duplicate",
    "readme.txt": "unsupported_extension",
    "pipe.mp4": "not_a_file",
}


def _build_raw_folder(raw: Path, media) -> None:
    make = media.make_video
    raw.mkdir(parents=True)
    make(raw / "clip 01 with spaces.mp4", variant=1, audio=True)
    make(raw / "vp9.webm", variant=2, codec=VP9)
    make(raw / "mjpeg.avi", variant=3, codec=("-c:v", "mjpeg"))
    make(raw / "ffv1.mkv", variant=4, codec=("-c:v", "ffv1"))
    make(raw / "anim.gif", variant=5, codec=("-c:v", "gif"))
    media.rotated_copy(make(raw.parent / "upright.mp4", variant=6, size=(80, 48)), raw / "phone.mov", 90)
    source = "testsrc2=size=64x48:rate=30,setpts='if(lt(N,30),N/30,1+(N-30)/5)/TB'"
    media.ffmpeg("-f", "lavfi", "-i", source, "-t", "4", "-fps_mode", "vfr", *H264, str(raw / "vfr.mp4"))
    make(raw / "portrait.mp4", variant=7, size=(48, 80))
    make(raw / "odd 33x27.mkv", variant=8, size=(33, 27), codec=("-c:v", "ffv1"))
    make(raw / "long.mp4", variant=9, seconds=10, fps=25)
    (raw / "sub").mkdir()
    make(raw / "sub" / "nested.mp4", variant=10)
    for k, name in enumerate(TRICKY_NAMES):
        make(raw / name, variant=11 + k)

    (raw / "empty.mp4").write_bytes(b"")
    whole = make(raw.parent / "whole.mp4", seconds=4, noise=True)
    media.truncated_copy(whole, raw / "cut.mp4")
    whole_fast = make(
        raw.parent / "whole_fast.mp4", seconds=4, noise=True, codec=(*H264, "-movflags", "+faststart")
    )
    media.truncated_copy(whole_fast, raw / "cut fast.mp4")
    media.truncated_copy(make(raw.parent / "whole.webm", seconds=4, noise=True, codec=VP9), raw / "cut.webm")
    (raw / "notes.mp4").write_text("my notes about the videos\n", encoding="utf-8")
    media.ffmpeg(
        "-f", "lavfi", "-i", "testsrc2=size=64x48", "-frames:v", "1", "-f", "mjpeg", str(raw / "photo.mov")
    )
    make(raw / "short.mp4", seconds=0.5, variant=20)
    media.ffmpeg("-f", "lavfi", "-i", "sine", "-t", "2", "-c:a", "aac", str(raw / "song.mp4"))
    media.gif_with_canvas(raw / "bomb.gif", 16000, 16000)
    shutil.copyfile(raw / "clip 01 with spaces.mp4", raw / "copy of clip.mp4")
    (raw / "readme.txt").write_text("videos of things sliding\n", encoding="utf-8")
    os.mkfifo(raw / "pipe.mp4")  # reading it would block forever
    (raw / ".DS_Store").write_bytes(b"\x00hidden")
    (raw / "captions.csv").write_text(
        "file,caption\n"
        "vp9.webm,a test pattern in vp9\n"
        'ünïcødé 日本.mp4,"a caption, with a comma"\n'
        "sub/nested.mp4,a nested video\n"
        "ghost.mp4,a file that is not there\n",
        encoding="utf-8",
    )


@pytest.fixture(scope="module")
def ingested(tmp_path_factory, media):
    """(raw folder, clips folder, report, log records) of one ingest run over the whole zoo."""
    root = tmp_path_factory.mktemp("ingest")
    raw, clips = root / "raw" / "zoo", root / "clips" / "zoo"
    _build_raw_folder(raw, media)
    handler, logger = _Collect(), logging.getLogger("lamp_core")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        report = ingest_motion(raw, clips, SETTINGS)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    return raw, clips, report, handler.messages


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.INFO)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def test_every_file_gets_a_row_with_its_fate(ingested):
    _, clips, report, _ = ingested
    rows = {row.source: row for row in read_manifest(clips / "manifest.csv")}
    assert set(rows) == set(EXPECTED_OK) | set(EXPECTED_REJECTED)
    for name, n_clips in EXPECTED_OK.items():
        assert rows[name].status == "ok", (name, rows[name].reason)
        assert len(rows[name].clips) == n_clips, name
    for name, code in EXPECTED_REJECTED.items():
        assert rows[name].status == "rejected", name
        assert rows[name].reason.startswith(code + ": "), (name, rows[name].reason)
        assert rows[name].clips == []
    assert report.n_clips == sum(EXPECTED_OK.values())
    assert [row.source for row in report.rows] == sorted(rows)


def test_manifest_describes_each_input(ingested):
    _, clips, _, _ = ingested
    rows = {row.source: row for row in read_manifest(clips / "manifest.csv")}
    first = rows["clip 01 with spaces.mp4"]
    assert len(first.sha256) == 64 and "mp4" in first.container and first.codec == "h264"
    assert (first.width, first.height, first.n_frames, first.fps, first.duration) == (64, 48, 24, 8.0, 3.0)
    assert first.audio and "audio dropped" in first.reason
    assert rows["vp9.webm"].codec == "vp9" and rows["mjpeg.avi"].codec == "mjpeg"
    assert rows["phone.mov"].rotation in (90, 270) and "rotated" in rows["phone.mov"].reason
    assert rows["vfr.mp4"].vfr and "variable frame rate" in rows["vfr.mp4"].reason
    assert "split into 3 clips" in rows["long.mp4"].reason
    assert (
        "copy of clip.mp4" not in first.reason
        and "clip 01 with spaces.mp4" in rows["copy of clip.mp4"].reason
    )
    assert (
        rows["bomb.gif"].reason
        == "too_large: 16000x16000 is larger than the limit of 33177600 pixels per frame"
    )
    assert rows["vp9.webm"].caption == "a test pattern in vp9"
    assert rows["ünïcødé 日本.mp4"].caption == "a caption, with a comma"
    assert rows["sub/nested.mp4"].caption == "a nested video"
    assert rows["mjpeg.avi"].caption == ""


def test_clips_are_normalised(ingested):
    _, clips, report, _ = ingested
    names = [name for row in report.rows for name in row.clips]
    assert len(set(names)) == len(names)
    for name in names:
        assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*-[0-9a-f]{12}-\d\d\.mp4", name), name
        info = probe_video(clips / name)
        assert (info.width, info.height, info.codec, info.fps) == (32, 32, "h264", 8.0)
        assert not info.has_audio and not info.variable_frame_rate
        assert 8 <= info.n_frames <= 32
    long_clips = next(row.clips for row in report.rows if row.source == "long.mp4")
    assert [probe_video(clips / name).n_frames for name in long_clips] == [26, 26, 26]  # 80 frames in 3


def test_nothing_is_written_outside_the_clips_folder(ingested):
    raw, clips, report, _ = ingested
    root = raw.parent.parent
    everything = {p.relative_to(root).as_posix() for p in root.rglob("*")}
    outside = {
        p
        for p in everything
        if not p.startswith(("raw/", "clips/zoo/")) and p not in ("raw", "clips", "clips/zoo")
    }
    assert outside == set()
    assert not [p for p in everything if p.rsplit("/", 1)[-1] in ("PWNED", "PWNED2")]  # no shell ran
    assert not list(Path.cwd().glob("PWNED*"))
    expected = {name for row in report.rows for name in row.clips} | {"manifest.csv", "ingest_state.json"}
    assert {p.name for p in clips.iterdir()} == expected


def test_one_line_per_rejected_file_and_a_summary(ingested):
    _, _, _, messages = ingested
    rejected = [m for m in messages if m.startswith("rejected ")]
    assert len(rejected) == len(EXPECTED_REJECTED)
    assert all("\n" not in m for m in rejected)
    assert any("captions for files that are not in the folder: ghost.mp4" in m for m in messages)
    n_clips, n_files = sum(EXPECTED_OK.values()), len(EXPECTED_OK) + len(EXPECTED_REJECTED)
    assert any(
        f"{n_clips} usable clip(s) from {n_files} file(s), rejected: 1 duplicate, 1 empty" in m
        for m in messages
    )


def _copy_zoo(raw0: Path, clips0: Path, dst: Path) -> tuple[Path, Path]:
    """A copy of the ingested zoo (copytree cannot copy the FIFO: it is made anew)."""
    raw, clips = dst / "raw", dst / "clips"
    shutil.copytree(raw0, raw, ignore=shutil.ignore_patterns("pipe.mp4"))
    os.mkfifo(raw / "pipe.mp4")
    shutil.copytree(clips0, clips)
    return raw, clips


def _snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.iterdir()}


def test_rerun_changes_nothing_and_adding_a_video_ingests_only_it(ingested, tmp_path, media):
    raw0, clips0, report0, _ = ingested
    raw, clips = _copy_zoo(raw0, clips0, tmp_path)
    before = _snapshot(clips)
    again = ingest_motion(raw, clips, SETTINGS)
    assert again.reused == len(EXPECTED_OK)
    assert _snapshot(clips) == before  # same bytes, not even rewritten

    media.make_video(raw / "new one.mp4", variant=30)
    added = ingest_motion(raw, clips, SETTINGS)
    assert added.reused == len(EXPECTED_OK)
    assert added.n_clips == report0.n_clips + 1
    after = _snapshot(clips)
    new_files = set(after) - set(before)
    assert len(new_files) == 1 and next(iter(new_files)).startswith("new_one-")
    assert all(after[name] == before[name] for name in before if name.endswith(".mp4"))


def test_changed_settings_reingest_everything(ingested, tmp_path):
    raw0, clips0, _, _ = ingested
    raw, clips = _copy_zoo(raw0, clips0, tmp_path)
    wider = from_params(
        IngestSettings, "ingest", width=40, height=32, fps=8, window_frames=8, max_clip_frames=32, min_clips=4
    )
    report = ingest_motion(raw, clips, wider)
    assert report.reused == 0
    assert {probe_video(clips / name).width for row in report.rows for name in row.clips} == {40}


def test_a_modified_clip_is_remade(ingested, tmp_path):
    raw0, clips0, report0, _ = ingested
    raw, clips = _copy_zoo(raw0, clips0, tmp_path)
    name = report0.rows[0].clips[0]
    original = (clips / name).read_bytes()
    (clips / name).write_bytes(b"damaged")
    report = ingest_motion(raw, clips, SETTINGS)
    assert report.reused == len(EXPECTED_OK) - 1
    assert (clips / name).read_bytes() == original


def test_too_few_usable_clips_fails_with_a_summary(tmp_path, media, caplog):
    raw, clips = tmp_path / "raw", tmp_path / "clips"
    raw.mkdir()
    media.make_video(raw / "a.mp4", variant=1)
    media.make_video(raw / "b.mp4", variant=2)
    (raw / "c.mp4").write_bytes(b"")
    with pytest.raises(LampError) as caught:
        ingest_motion(raw, clips, SETTINGS)
    message = str(caught.value)
    assert str(raw) in message and "only 2 usable clip(s) from 3 file(s), rejected: 1 empty" in message
    assert "min_clips=4" in message and "manifest.csv" in message
    assert len(read_manifest(clips / "manifest.csv")) == 3  # the manifest says why, for the user to read

    fewer = from_params(
        IngestSettings, "ingest", width=32, height=32, fps=8, window_frames=8, max_clip_frames=32, min_clips=2
    )
    with caplog.at_level(logging.WARNING, logger="lamp_core"):
        assert ingest_motion(raw, clips, fewer).n_clips == 2
    assert any("the method wants 8-16" in r.getMessage() for r in caplog.records)


def test_missing_and_empty_folders(tmp_path):
    with pytest.raises(LampError, match="does not exist"):
        ingest_motion(tmp_path / "nope", tmp_path / "clips", SETTINGS)
    (tmp_path / "empty").mkdir()
    with pytest.raises(LampError, match="holds no videos"):
        ingest_motion(tmp_path / "empty", tmp_path / "clips", SETTINGS)
    (tmp_path / "only_captions").mkdir()
    (tmp_path / "only_captions" / "captions.csv").write_text("file,caption\n")
    with pytest.raises(LampError, match="holds no videos"):
        ingest_motion(tmp_path / "only_captions", tmp_path / "clips", SETTINGS)
    assert not (tmp_path / "clips").exists()


def test_malformed_sidecar_is_a_clear_error(tmp_path, media):
    raw = tmp_path / "raw"
    raw.mkdir()
    media.make_video(raw / "a.mp4")
    (raw / "captions.csv").write_text("name;text\na.mp4;hello\n", encoding="utf-8")
    with pytest.raises(LampError, match=r"captions\.csv: expected the columns file,caption"):
        ingest_motion(raw, tmp_path / "clips", SETTINGS)


# Imports everything first, then (as root) becomes `nobody`: root reads any file whatever its mode, and
# the interpreter's own files may be out of nobody's reach, so privileges drop only once it is loaded.
_INGEST_AS_NOBODY = """
import os, sys
from pathlib import Path
from lamp_core.data import IngestSettings, ingest_motion
from lamp_core.video import ffmpeg_version
ffmpeg_version()
if os.geteuid() == 0:
    os.setgroups([])
    os.setgid(65534)
    os.setuid(65534)
settings = IngestSettings(width=32, height=32, fps=8, window_frames=8, max_clip_frames=32, min_clips=1,
                          crf=18, max_source_pixels=10**8, timeout_s=60.0)
report = ingest_motion(Path(sys.argv[1]), Path(sys.argv[2]), settings)
print(*(f"{row.source}|{row.status}|{row.reason}" for row in report.rows), sep="\\n")
"""


def test_unreadable_file_is_rejected_and_the_rest_ingested(media):
    base = Path(tempfile.mkdtemp(prefix="lamp-perm-", dir="/tmp"))
    try:
        base.chmod(0o777)
        raw = base / "raw"
        raw.mkdir()
        media.make_video(raw / "readable.mp4", variant=1)
        media.make_video(raw / "locked.mp4", variant=2).chmod(0o000)
        raw.chmod(0o755)
        done = subprocess.run(
            [sys.executable, "-c", _INGEST_AS_NOBODY, str(raw), str(base / "clips")],
            capture_output=True,
            text=True,
            cwd=base,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        rows = dict(line.split("|", 1) for line in done.stdout.strip().splitlines())
        assert rows["readable.mp4"].startswith("ok|")
        assert rows["locked.mp4"] == "rejected|unreadable: permission denied: the file is not readable"
    finally:
        shutil.rmtree(base)
