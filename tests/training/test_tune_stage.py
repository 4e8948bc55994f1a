"""The `tune` stage as DVC runs it, in real subprocesses: killed by SIGKILL and resumed; on 2 processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from conftest import MOTION, STEPS, assert_same_weights, make_project

REPO = Path(__file__).resolve().parents[2]


def _stage(project: Path) -> list[str]:
    return [
        sys.executable, "-m", "stages.tune", MOTION,
        "--params", str(project / "params.yaml"),
        "--data-dir", str(project / "data"),
        "--reports-dir", str(project / "reports"),
    ]  # fmt: skip


def _env() -> dict[str, str]:
    # One thread per process (as the in-process runs), and the repository importable from the project folder.
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}


def _run(project: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        _stage(project), cwd=project, env=_env(), capture_output=True, text=True, timeout=timeout
    )


def test_sigkill_then_rerun_resumes_and_ends_with_the_right_steps(straight, tiny_sd_dir, tmp_path) -> None:
    steps = STEPS
    project = make_project(tmp_path / "killed", tiny_sd_dir, steps=steps, checkpoint_every=2)
    checkpoints = project / "data" / "checkpoints" / MOTION
    output = project / "data" / "motions" / MOTION

    process = subprocess.Popen(_stage(project), cwd=project, env=_env(), stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not any(checkpoints.glob("step_*")) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=60)
    killed_at = [int(p.name.removeprefix("step_")) for p in checkpoints.glob("step_*")]
    assert process.returncode == -signal.SIGKILL and killed_at and max(killed_at) < steps
    assert not output.exists()  # nothing published, not even in part

    done = _run(project)
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"resuming {MOTION} from the checkpoint of step {max(killed_at)} of {steps}" in done.stderr
    card = json.loads((output / "model_card.json").read_text())
    assert card["steps"] == steps
    assert not any(p.name.startswith(".") for p in output.parent.iterdir())

    assert_same_weights(straight, project)  # as if never killed


@pytest.mark.slow
def test_two_cpu_processes_train_in_lockstep(tiny_sd_dir, tmp_path) -> None:
    project = make_project(
        tmp_path / "two", tiny_sd_dir, steps=2, batch_size=1, checkpoint_every=1, log_every=1, num_processes=2
    )
    done = _run(project, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    state = json.loads(
        (project / "data" / "checkpoints" / MOTION / "step_0000002" / "state.json").read_text()
    )
    assert len(state["rank_digests"]) == 2 and len(set(state["rank_digests"])) == 1
    card = json.loads((project / "data" / "motions" / MOTION / "model_card.json").read_text())
    assert card["training"]["num_processes"] == 2 and card["steps"] == 2
    assert yaml.safe_load((project / "params.yaml").read_text())["tune"]["num_processes"] == 2
