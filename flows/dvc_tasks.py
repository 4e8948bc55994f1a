"""Prefect tasks that drive DVC: `dvc repro` of one stage, the experiment queue, `dvc push`.

Each runs DVC as a subprocess in the project root and streams its log lines into Prefect's logs. A failure
that another try can fix (a file locked by a concurrent DVC run, a stage killed by the OOM killer or a
preemption) is retried; one that would fail again the same way (the stage's command exits with an error)
is not. A retried `dvc repro` redoes nothing that finished: DVC skips every stage whose inputs are unchanged.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import task_run as current_task_run

from flows.artifacts import StageProgress, artifact_key
from flows.gpu import GPU_TAG, claim_gpu
from flows.pipeline import FlowError

TAIL_LINES = 12
# Tries after the first for a DVC task that failed for a passing reason, and the wait between tries: the
# one home of both; the flows take them as parameters with these defaults.
RETRIES = 2
RETRY_DELAY_S = 30.0
# Progress bars redraw with '\r' many times a second: log one redraw per interval.
UPDATE_LOG_INTERVAL_S = 10.0

_TRANSIENT = (
    re.compile(r"is busy, it is being blocked by"),  # DVC's per-file lock: a concurrent run holds the file
    re.compile(r"Unable to acquire lock"),  # DVC's repo lock
    re.compile(r"exited with (-9|-15|137|143)\b"),  # killed by a signal: OOM killer, preemption
)
_RAN_STAGE = re.compile(r"^Running stage '([^']+)'")


class StageFailed(FlowError):
    """A DVC command failed; `transient` says whether running it again may succeed."""

    def __init__(self, command: str, root: str, returncode: int, tail: list[str]):
        self.command = command
        self.root = root
        self.returncode = returncode
        self.tail = tail
        self.transient = any(p.search(line) for p in _TRANSIENT for line in tail)
        super().__init__(
            f"`{command}` failed (exit {returncode}): {_reason(tail)}\nin {root}, last lines:\n"
            + "\n".join(tail)
        )

    def __reduce__(self):  # rebuilt from its fields when it travels back from a worker process
        return type(self), (self.command, self.root, self.returncode, self.tail)


def _reason(tail: list[str]) -> str:
    """DVC's ERROR line, after the line the stage printed last (usually its own error), if there is one."""
    errors = [i for i, line in enumerate(tail) if line.startswith("ERROR")]
    if not errors:
        return tail[-1] if tail else "no output"
    before = tail[errors[-1] - 1] if errors[-1] > 0 else ""
    if before and not before.startswith(("> ", "Running stage", "Stage '")):
        return f"{before} -- {tail[errors[-1]]}"
    return tail[errors[-1]]


@dataclass(frozen=True)
class StageRun:
    """What one DVC task did."""

    target: str  # the stage address or experiment name
    ran: tuple[str, ...]  # the stages whose command DVC ran (an up-to-date stage is skipped)
    started: float  # epoch seconds when DVC started (after the GPU slot was granted, for a GPU stage)
    finished: float
    device: str | None  # the GPU it was given, if any
    pid: int  # the process that ran the task: shows which worker got it


def _retry_if_transient(task, task_run, state) -> bool:
    """Prefect retry condition: retry a DVC task only when its failure may go away on its own."""
    try:
        state.result()
    except StageFailed as exc:
        return exc.transient
    except Exception:
        return False
    return False


def dvc_argv(*args: str) -> list[str]:
    """`dvc <args>` run by this interpreter, waiting for DVC's repo lock rather than failing at once."""
    return [sys.executable, "-m", "dvc", "--wait-for-lock", *args]


def stage_env(device: str | None) -> dict[str, str]:
    """The environment of a DVC run: this interpreter's bin/ first (so a stage's `python` is ours), unbuffered
    output (so log lines stream as they are written) and, on a GPU machine, only the claimed device."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["PYTHONUNBUFFERED"] = "1"
    if device is not None:
        env["CUDA_VISIBLE_DEVICES"] = device
    return env


def run_dvc(root: str, args: list[str], target: str) -> StageRun:
    """Run `dvc <args>` in `root`, stream its lines to the run logger, raise StageFailed on failure."""
    logger = get_run_logger()
    progress = StageProgress(key=artifact_key(target, "progress"), description=f"progress of {target}")
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    ran: list[str] = []
    last_update = 0.0

    def on_line(line: str, is_update: bool) -> None:
        nonlocal last_update
        progress.observe(line)
        if is_update:  # a redraw of a progress bar
            now = time.monotonic()
            if now - last_update < UPDATE_LOG_INTERVAL_S:
                return
            last_update = now
        tail.append(line)
        if match := _RAN_STAGE.match(line):
            ran.append(match.group(1))
        logger.info(line)

    command = "dvc " + " ".join(args)
    gpu = GPU_TAG in (current_task_run.tags or [])
    with claim_gpu() if gpu else nullcontext() as device:
        if device is not None:
            logger.info("running on GPU %s", device)
        started = time.time()
        returncode = run_streaming(dvc_argv(*args), cwd=root, env=stage_env(device), on_line=on_line)
        finished = time.time()
    progress.finish(succeeded=returncode == 0)
    if returncode != 0:
        raise StageFailed(command, root, returncode, list(tail))
    return StageRun(target, tuple(ran), started, finished, device, os.getpid())


_DVC_TASK_OPTIONS: dict[str, Any] = {
    "cache_policy": NO_CACHE,  # DVC is the cache: a task must always ask DVC
    "retries": RETRIES,
    "retry_delay_seconds": RETRY_DELAY_S,
    "retry_condition_fn": _retry_if_transient,
}


@task(name="dvc-repro", task_run_name="{stage}", **_DVC_TASK_OPTIONS)
def repro_stage(root: str, stage: str, pull: bool = False) -> StageRun:
    """`dvc repro <stage>` in the project at `root` (DVC checks, and skips, the finished stages above).

    With `pull`, outputs of finished stages missing here are fetched from the DVC remote, not recomputed.
    """
    return run_dvc(root, ["repro", *(["--pull"] if pull else []), stage], target=stage)


@task(name="dvc-exp-queue", task_run_name="queue {name}", **_DVC_TASK_OPTIONS)
def queue_experiment(root: str, name: str, params: dict[str, Any], targets: list[str]) -> StageRun:
    """`dvc exp run --queue` of `targets` with `params` set, as experiment `name` (nothing runs yet)."""
    args = ["exp", "run", "--queue", "--name", name]
    for key, value in params.items():
        args += ["--set-param", f"{key}={format_param(value)}"]
    return run_dvc(root, [*args, *targets], target=name)


@task(name="dvc-exp-run-all", task_run_name="run queue", **_DVC_TASK_OPTIONS)
def run_queue(root: str, jobs: int) -> StageRun:
    """`dvc exp run --run-all --jobs <jobs>`: DVC's queue runs every queued experiment, `jobs` at a time, each
    in its own temporary copy of the workspace (the workspace is untouched), and returns when all are done."""
    return run_dvc(root, ["exp", "run", "--run-all", "--jobs", str(jobs)], target="queue")


@task(name="dvc-push", task_run_name="push", **_DVC_TASK_OPTIONS)
def push_outputs(root: str, targets: list[str], remote: str | None = None) -> StageRun:
    """`dvc push` of the outputs of `targets`, so other workers and machines can pull them."""
    args = ["push", *(["--remote", remote] if remote else []), *targets]
    return run_dvc(root, args, target="push")


def format_param(value: Any) -> str:
    """A parameter value as `dvc exp run --set-param` reads it (YAML): strings as they are, others as JSON."""
    return value if isinstance(value, str) else json.dumps(value)


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
