"""Running a command while streaming its output line by line, progress-bar redraws included."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Callable, Mapping, Sequence

LineHandler = Callable[[str, bool], None]  # (line, is_update): is_update for a '\r' redraw of a progress bar


def run_streaming(
    argv: Sequence[str], cwd: str | os.PathLike, env: Mapping[str, str], on_line: LineHandler
) -> int:
    """Run `argv` in `cwd` with stderr merged into stdout, hand every line to `on_line`, return the exit code.

    The command runs in its own process group; if the caller is interrupted (a cancelled flow run), the whole
    group is terminated so no stage process outlives it.
    """
    proc = subprocess.Popen(
        list(argv),
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    assert proc.stdout is not None
    pending = b""
    try:
        while chunk := proc.stdout.read1(65536):
            pending = _emit_lines(pending + chunk, on_line)
        if pending:
            on_line(pending.decode("utf-8", errors="replace"), False)
        return proc.wait()
    finally:
        if proc.poll() is None:
            _stop_group(proc)
        proc.stdout.close()


def _emit_lines(buffer: bytes, on_line: LineHandler) -> bytes:
    """Pass each complete line of `buffer` to `on_line`; return the unfinished rest."""
    start = 0
    for i, byte in enumerate(buffer):
        if byte not in (0x0A, 0x0D):  # \n, \r
            continue
        if byte == 0x0D and i + 1 == len(buffer):
            break  # a '\r' at the end may be the first half of '\r\n': wait for the next chunk
        is_update = byte == 0x0D and buffer[i + 1] != 0x0A
        line = buffer[start:i].decode("utf-8", errors="replace").rstrip()
        if line:
            on_line(line, is_update)
        start = i + 1
    return buffer[start:]


def _stop_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
