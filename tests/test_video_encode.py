"""write_video (MP4/H.264 and GIF) and read_video (decord, PyAV where decord fails) round trips."""

from __future__ import annotations

import numpy as np
import pytest

from lamp_core.errors import VideoError
from lamp_core.video import probe_video, read_video, write_video


def _moving_square(n_frames: int, height: int, width: int) -> np.ndarray:
    """A white square sliding right over a smooth gradient: easy to compress, easy to compare."""
    frames = np.zeros((n_frames, height, width, 3), dtype=np.uint8)
    frames[..., 0] = np.linspace(40, 200, width, dtype=np.uint8)[None, None, :]
    frames[..., 2] = np.linspace(200, 40, height, dtype=np.uint8)[None, :, None]
    for t in range(n_frames):
        frames[t, 4:12, 2 + t : 10 + t] = 255
    return frames


def test_mp4_round_trip(tmp_path):
    frames = _moving_square(12, 32, 40)
    path = write_video(frames, tmp_path / "clip.mp4", fps=8)
    info = probe_video(path)
    assert (info.codec, info.width, info.height, info.n_frames) == ("h264", 40, 32, 12)
    assert info.fps == pytest.approx(8)
    decoded = read_video(path)
    assert decoded.shape == frames.shape and decoded.dtype == np.uint8
    assert np.abs(decoded.astype(int) - frames).mean() < 4
    assert np.array_equal(read_video(path, [0, -1]), decoded[[0, -1]])


def test_mp4_is_byte_identical_when_written_twice(tmp_path):
    frames = _moving_square(8, 32, 32)
    first = write_video(frames, tmp_path / "a.mp4", fps=8).read_bytes()
    assert write_video(frames, tmp_path / "b.mp4", fps=8).read_bytes() == first


def test_odd_size_is_padded_to_even(tmp_path):
    frames = _moving_square(6, 33, 47)
    decoded = read_video(write_video(frames, tmp_path / "odd.mp4", fps=8))
    assert decoded.shape == (6, 34, 48, 3)
    assert np.abs(decoded[:, :33, :47].astype(int) - frames).mean() < 4


@pytest.mark.parametrize("width", [48, 72])
def test_read_video_survives_decord_width_bug(tmp_path, width):
    # decord 0.6 fails on these widths; read_video falls back to PyAV and still returns every frame.
    frames = _moving_square(5, 32, width)
    decoded = read_video(write_video(frames, tmp_path / "w.mp4", fps=8))
    assert decoded.shape == frames.shape
    assert np.abs(decoded.astype(int) - frames).mean() < 4


def test_gif(tmp_path):
    frames = _moving_square(10, 32, 32)
    path = write_video(frames, tmp_path / "clip.gif", fps=10)
    info = probe_video(path)
    assert (info.container, info.n_frames, info.width, info.height) == ("gif", 10, 32, 32)
    assert info.fps == pytest.approx(10, rel=0.05)


def test_write_errors_name_the_file_and_leave_nothing(tmp_path):
    frames = _moving_square(4, 16, 16)
    with pytest.raises(VideoError, match=r"float32"):
        write_video(frames.astype(np.float32), tmp_path / "float.mp4", fps=8)
    with pytest.raises(VideoError, match=r"\.avi"):
        write_video(frames, tmp_path / "clip.avi", fps=8)
    with pytest.raises(VideoError, match=r"shape"):
        write_video(frames[..., 0], tmp_path / "gray.mp4", fps=8)
    with pytest.raises(VideoError, match=r"fps"):
        write_video(frames, tmp_path / "zero.mp4", fps=0)
    assert list(tmp_path.iterdir()) == []


def test_read_errors(tmp_path):
    with pytest.raises(VideoError, match="does not exist"):
        read_video(tmp_path / "missing.mp4")
    (tmp_path / "text.mp4").write_text("not a video")
    with pytest.raises(VideoError, match=r"text\.mp4"):
        read_video(tmp_path / "text.mp4")
    path = write_video(_moving_square(4, 16, 16), tmp_path / "four.mp4", fps=8)
    with pytest.raises(VideoError, match="out of range"):
        read_video(path, [4])
