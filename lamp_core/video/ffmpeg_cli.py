"""Running the ffmpeg binary of imageio-ffmpeg on commands built with ffmpeg-python.

File names never reach a shell: commands are argument lists. Every path is passed as `file:<absolute
path>`, so neither a leading `-` (an option) nor a `name:` prefix (a protocol) can be misread.
"""

from __future__ import annotations

import functools
import subprocess
from fractions import Fraction
from pathlib import Path

import ffmpeg
import imageio_ffmpeg

from lamp_core.errors import LampError

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
