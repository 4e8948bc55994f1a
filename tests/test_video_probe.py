"""Probing real video files of several containers/codecs, and every kind of bad input, with PyAV."""

from __future__ import annotations

import resource

import pytest

from lamp_core.errors import VideoError
from lamp_core.video import probe_video

# (file name, ffmpeg codec arguments, expected demuxer name fragment, expected decoder name)
CONTAINERS = [
    ("h264.mp4", ("-c:v", "libx264", "-pix_fmt", "yuv420p"), "mp4", "h264"),
    ("vp9.webm", ("-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8"), "webm", "vp9"),
    ("mjpeg.avi", ("-c:v", "mjpeg", "-q:v", "5"), "avi", "mjpeg"),
    ("ffv1.mkv", ("-c:v", "ffv1"), "matroska", "ffv1"),
    ("prores.mov", ("-c:v", "prores_ks", "-profile:v", "0"), "mov", "prores"),
    ("anim.gif", ("-c:v", "gif",), "gif", "gif"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "codec", "container", "decoder"), CONTAINERS)
def test_probe_reads_each_container(tmp_path, media, name, codec, container, decoder):
    path = media.make_video(tmp_path / name, seconds=2, size=(64, 48), fps=8, codec=codec)
    info = probe_video(path)
    assert container in info.container
    assert info.codec == decoder
    assert (info.width, info.height) == (64, 48)
    assert info.n_frames == 16
    assert info.fps == pytest.approx(8, rel=0.05)  # GIF stores delays in 1/100 s
    assert info.duration == pytest.approx(2.0, rel=0.05)
    assert not info.variable_frame_rate
    assert info.rotation == 0
    assert not info.has_audio


def test_probe_sees_audio_and_rotation(tmp_path, media):
    plain = media.make_video(tmp_path / "plain.mp4", audio=True)
    phone = media.rotated_copy(plain, tmp_path / "phone.mov", 90)
    info = probe_video(phone)
    assert info.has_audio
    assert info.rotation in (90, 270)
    assert (info.width, info.height) == (64, 48)
    assert (info.display_width, info.display_height) == (48, 64)
    assert probe_video(plain).rotation == 0


def test_probe_detects_variable_frame_rate(tmp_path, media):
    # 20 frames at 30 fps, then frames 0.2 s apart: timestamps as a phone writes them when light drops.
    vfr = tmp_path / "vfr.mp4"
    source = "testsrc2=size=64x48:rate=30,setpts='if(lt(N,20),N/30,20/30+(N-20)/5)/TB'"
    media.ffmpeg("-f", "lavfi", "-i", source, "-t", "4", "-fps_mode", "vfr", "-c:v", "libx264", str(vfr))
    info = probe_video(vfr)
    assert info.variable_frame_rate
    assert not probe_video(media.make_video(tmp_path / "cfr.mp4")).variable_frame_rate


def _code(path, **kwargs) -> str:
    with pytest.raises(VideoError) as caught:
        probe_video(path, **kwargs)
    assert str(path) in str(caught.value)  # every error names the file
    return caught.value.code


def test_probe_rejects_empty_text_and_image_files(tmp_path, media):
    (tmp_path / "empty.mp4").write_bytes(b"")
    (tmp_path / "notes.mp4").write_text("these are my notes, not a video\n", encoding="utf-8")
    media.ffmpeg("-f", "lavfi", "-i", "testsrc2=size=64x48", "-frames:v", "1", str(tmp_path / "picture.png"))
    (tmp_path / "picture.mp4").write_bytes((tmp_path / "picture.png").read_bytes())
    media.ffmpeg("-f", "lavfi", "-i", "testsrc2=size=64x48", "-frames:v", "1", str(tmp_path / "photo.jpg"))
    (tmp_path / "photo.mov").write_bytes((tmp_path / "photo.jpg").read_bytes())
    assert _code(tmp_path / "empty.mp4") == "empty"
    assert _code(tmp_path / "notes.mp4") == "not_a_video"
    assert _code(tmp_path / "picture.mp4") == "image_file"
    assert _code(tmp_path / "photo.mov") == "image_file"
    assert _code(tmp_path / "missing.mp4") == "missing"
    assert _code(tmp_path) == "not_a_file"


def test_probe_rejects_audio_only(tmp_path, media):
    path = tmp_path / "song.mp4"
    media.ffmpeg("-f", "lavfi", "-i", "sine", "-t", "1", "-c:a", "aac", str(path))
    with pytest.raises(VideoError, match="audio only") as caught:
        probe_video(path)
    assert caught.value.code == "no_video"


@pytest.mark.parametrize(
    ("name", "codec"),
    [
        ("index_at_end.mp4", ("-c:v", "libx264")),  # moov atom written last: gone when cut
        ("index_first.mp4", ("-c:v", "libx264", "-movflags", "+faststart")),  # index declares missing frames
        ("cut.webm", ("-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8")),
    ],
)
def test_probe_rejects_truncated_files(tmp_path, media, name, codec):
    whole = media.make_video(tmp_path / f"whole{name[-5:]}", seconds=4, codec=codec, noise=True)
    assert probe_video(whole).n_frames == 32
    assert _code(media.truncated_copy(whole, tmp_path / name, 0.5)) == "truncated"


def test_probe_rejects_huge_resolution_without_decoding_it(tmp_path, media):
    # 16000 x 16000 RGBA is 1 GiB per decoded frame; the file itself is a few hundred bytes.
    bomb = media.gif_with_canvas(tmp_path / "bomb.gif", 16000, 16000)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    with pytest.raises(VideoError, match="16000x16000") as caught:
        probe_video(bomb, max_pixels=7680 * 4320)
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert caught.value.code == "too_large"
    assert grown_mib < 200
    # The same tiny canvas passes: the limit is what rejects the big one.
    assert (
        probe_video(media.gif_with_canvas(tmp_path / "small.gif", 64, 48), max_pixels=7680 * 4320).n_frames
        == 10
    )


def test_probe_reads_odd_and_portrait_sizes(tmp_path, media):
    odd = media.make_video(tmp_path / "odd.mkv", size=(33, 27), codec=("-c:v", "ffv1"))
    portrait = media.make_video(tmp_path / "portrait.mp4", size=(48, 80))
    assert (probe_video(odd).width, probe_video(odd).height) == (33, 27)
    assert (probe_video(portrait).display_width, probe_video(portrait).display_height) == (48, 80)
