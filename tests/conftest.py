"""Shared fixtures: real video files made with the bundled ffmpeg binary (lavfi test sources)."""

from __future__ import annotations

import struct
import subprocess
from collections.abc import Sequence
from pathlib import Path

import imageio_ffmpeg
import pytest

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()
H264 = ("-c:v", "libx264", "-pix_fmt", "yuv420p")


def ffmpeg(*args: str) -> None:
    """Run the bundled ffmpeg with `args` (no shell); raise with its stderr on failure."""
    command = [FFMPEG, "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"ffmpeg {' '.join(args)} failed: {done.stderr.strip()}")


def make_video(
    path: str | Path,
    *,
    seconds: float = 3.0,
    size: tuple[int, int] = (64, 48),
    fps: float = 8,
    variant: int = 0,
    codec: Sequence[str] = H264,
    audio: bool = False,
    noise: bool = False,
    before_input: Sequence[str] = (),
) -> Path:
    """A test-pattern video at `path` (the container follows the extension); returns `path`.

    `variant` shifts the hue so files of the same size differ in content; `noise` makes the file large
    (incompressible), e.g. to cut it short; `before_input` are options placed before `-i` (e.g.
    `-display_rotation 90`, which needs an existing file: see `rotated_copy`).
    """
    path = Path(path)
    width, height = size
    # testsrc2 rounds sizes down to even numbers: scale to the exact (possibly odd) size afterwards
    hue = variant * 37 % 360
    source = f"testsrc2=size={width + 1}x{height + 1}:rate={fps},scale={width}:{height},hue=h={hue}"
    if noise:
        source += ",noise=alls=40:allf=t"
    inputs = [*before_input, "-f", "lavfi", "-i", source]
    if audio:
        inputs += ["-f", "lavfi", "-i", "sine=frequency=440"]
    audio_codec = ["-c:a", "aac"] if audio else []
    ffmpeg(*inputs, "-t", f"{seconds}", *codec, *audio_codec, "file:" + str(path.absolute()))
    return path


def gif_with_canvas(path: str | Path, width: int, height: int, n_frames: int = 10) -> Path:
    """A valid animated GIF of `n_frames` 1x1 pixel images on a `width` x `height` canvas.

    A few hundred bytes on disk, but a decoder that renders it allocates width x height x 4 bytes per
    frame: the classic way a tiny file declares a huge resolution.
    """
    data = bytearray(b"GIF89a")
    data += struct.pack("<HHBBB", width, height, 0x80, 0, 0)  # global colour table of 2 entries
    data += bytes([0, 0, 0, 255, 255, 255])
    data += b"\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00"  # loop forever
    for index in range(n_frames):
        data += b"\x21\xf9\x04\x00" + struct.pack("<H", 12) + b"\x00\x00"  # 12/100 s per frame
        data += b"\x2c" + struct.pack("<HHHH", index % width, 0, 1, 1) + b"\x00"
        data += b"\x02\x02\x44\x01\x00"  # LZW: clear, colour 0, end
    data += b"\x3b"
    path = Path(path)
    path.write_bytes(bytes(data))
    return path


def rotated_copy(src: str | Path, dst: str | Path, degrees: int) -> Path:
    """A copy of `src` (no re-encode) carrying a display rotation, like a phone video."""
    src_url, dst_url = "file:" + str(Path(src).absolute()), "file:" + str(Path(dst).absolute())
    ffmpeg("-display_rotation", str(degrees), "-i", src_url, "-c", "copy", dst_url)
    return Path(dst)


def truncated_copy(src: str | Path, dst: str | Path, fraction: float = 0.5) -> Path:
    """The first `fraction` of the bytes of `src`, as an interrupted download leaves a file."""
    data = Path(src).read_bytes()
    Path(dst).write_bytes(data[: int(len(data) * fraction)])
    return Path(dst)


class Media:
    """The helpers above, handed to tests by the `media` fixture."""

    ffmpeg = staticmethod(ffmpeg)
    make_video = staticmethod(make_video)
    gif_with_canvas = staticmethod(gif_with_canvas)
    rotated_copy = staticmethod(rotated_copy)
    truncated_copy = staticmethod(truncated_copy)


@pytest.fixture(scope="session")
def media() -> type[Media]:
    """Makers of real test media files: `media.make_video(path, ...)`, `media.gif_with_canvas(...)`, ..."""
    return Media


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The proof test first: with `make test`'s `--dist loadscope --no-loadscope-reorder` its motions (one
    tuning run each, the longest tests) start at once on the two workers, and the rest fills in after."""
    items.sort(key=lambda item: not item.nodeid.startswith("tests/test_motion_learned.py"))
