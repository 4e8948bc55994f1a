"""Normalising real videos: constant fps, scale-to-cover + centre-crop, rotation, splitting, no audio."""

from __future__ import annotations

import pytest

from lamp_core.errors import VideoError
from lamp_core.video import NormaliseSpec, Segment, normalise_video, plan_segments, probe_video, read_video

SPEC = NormaliseSpec(width=32, height=32, fps=8, crf=18, timeout=600.0)


@pytest.mark.parametrize(
    ("n_frames", "max_frames", "min_frames", "expected"),
    [
        (24, 32, 8, [(0, 24)]),
        (80, 32, 8, [(0, 26), (26, 52), (52, 78)]),  # equal thirds, 2 leftover frames dropped
        (7, 32, 8, []),
        (20, None, 8, [(0, 20)]),
        (20, 9, 8, [(0, 9), (9, 18)]),  # 3 equal segments would be < 8 frames each: 2 of 9
    ],
)
def test_plan_segments(n_frames, max_frames, min_frames, expected):
    segments = plan_segments(n_frames, max_frames, min_frames)
    assert segments == expected
    assert all(min_frames <= b - a <= (max_frames or n_frames) for a, b in segments)


def test_plan_segments_rejects_a_window_longer_than_a_clip():
    with pytest.raises(ValueError, match="shorter than min_frames"):
        plan_segments(40, 4, 8)


def _halves(media, path, left: str, right: str):
    """A 64x32 video, 1 s at 8 fps, whose left half is one colour and right half another."""
    graph = f"color={left}:size=32x32:rate=8[a];color={right}:size=32x32:rate=8[b];[a][b]hstack"
    media.ffmpeg("-f", "lavfi", "-i", graph, "-t", "1", "-c:v", "libx264", "-pix_fmt", "yuv420p", str(path))
    return path


def test_cover_crop_keeps_the_centre_and_drops_audio(tmp_path, media):
    # 96x32 (3:1) -> scale to 96x32 then crop the middle 32x32: left third red, middle green, right blue.
    graph = (
        "color=red:size=32x32:rate=8[a];color=lime:size=32x32:rate=8[b];color=blue:size=32x32:rate=8[c];"
        "[a][b][c]hstack=inputs=3"
    )
    src = tmp_path / "wide.mp4"
    media.ffmpeg("-f", "lavfi", "-i", graph, "-f", "lavfi", "-i", "sine", "-t", "1", "-c:v", "libx264",
                 "-c:a", "aac", "file:" + str(src))  # fmt: skip
    out = tmp_path / "out.mp4"
    result = normalise_video(probe_video(src), [Segment(0, 8, out)], SPEC)
    assert result.frame_counts == [8]
    info = probe_video(out)
    assert (info.width, info.height, info.n_frames, info.has_audio) == (32, 32, 8, False)
    frames = read_video(out)
    assert frames[:, 8:24, 8:24, 1].min() > 200  # green centre
    assert frames[:, :, :, 0].max() < 60 and frames[:, :, :, 2].max() < 60  # no red or blue left


def test_rotation_is_applied(tmp_path, media):
    # Left red / right blue, displayed rotated 90 degrees counter-clockwise: blue on top, red at the bottom.
    plain = _halves(media, tmp_path / "plain.mp4", "red", "blue")
    phone = media.rotated_copy(plain, tmp_path / "phone.mov", 90)
    out = tmp_path / "out.mp4"
    normalise_video(probe_video(phone), [Segment(0, 8, out)], SPEC)
    frame = read_video(out)[0].astype(int)
    top, bottom = frame[2:10].mean(axis=(0, 1)), frame[22:30].mean(axis=(0, 1))
    assert top[2] > 150 and top[0] < 80
    assert bottom[0] > 150 and bottom[2] < 80


def test_frame_rate_is_resampled_and_long_videos_split(tmp_path, media):
    src = media.make_video(tmp_path / "long.mp4", seconds=10, fps=30, size=(48, 64))  # portrait, 30 fps
    info = probe_video(src)
    spans = plan_segments(80, 32, 8)
    segments = [Segment(a, b, tmp_path / f"part{k}.mp4") for k, (a, b) in enumerate(spans)]
    result = normalise_video(info, segments, SPEC)
    assert result.frame_counts == [26, 26, 26]
    for seg in segments:
        out = probe_video(seg.path)
        assert (out.width, out.height, out.fps, out.variable_frame_rate) == (32, 32, 8.0, False)
    assert not list(tmp_path.glob(".*partial"))


def test_output_is_byte_identical_across_runs(tmp_path, media):
    src = media.make_video(tmp_path / "src.webm", seconds=2, codec=("-c:v", "libvpx-vp9", "-cpu-used", "8"))
    info = probe_video(src)
    normalise_video(info, [Segment(0, 16, tmp_path / "a.mp4")], SPEC)
    normalise_video(info, [Segment(0, 16, tmp_path / "b.mp4")], SPEC)
    assert (tmp_path / "a.mp4").read_bytes() == (tmp_path / "b.mp4").read_bytes()


def test_failure_names_the_source_and_leaves_no_output(tmp_path, media):
    src = media.make_video(tmp_path / "src.mp4", seconds=1)
    info = probe_video(src)
    src.write_bytes(b"gone bad since the probe")
    with pytest.raises(VideoError, match=r"src\.mp4") as caught:
        normalise_video(info, [Segment(0, 8, tmp_path / "out.mp4")], SPEC)
    assert "ffmpeg failed" in caught.value.reason
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src.mp4"]
    assert src.read_bytes() == b"gone bad since the probe"  # the input is never touched
