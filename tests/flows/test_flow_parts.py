"""The parts of the flows that need no Prefect server: reading the pipeline, streaming lines, GPU claims."""

from __future__ import annotations

import pickle
import sys
import threading
import time
from pathlib import Path

import pytest
from toy_dvc_project import write_toy_project

from flows.artifacts import artifact_key, parse_progress, read_metrics
from flows.dvc_tasks import StageFailed, format_param, run_streaming
from flows.gpu import claim_gpu, default_gpu_slots, gpu_stage_groups
from flows.pipeline import FlowError, Pipeline
from flows.sweep import expand_grid


@pytest.fixture(scope="module")
def toy(tmp_path_factory) -> Pipeline:
    root = write_toy_project(tmp_path_factory.mktemp("toy") / "p", motions=["alpha", "beta"])
    return Pipeline.load(root)


def addresses(stages) -> list[str]:
    return [s.address for s in stages]


def test_pipeline_is_read_from_dvc_in_pipeline_order(toy: Pipeline):
    assert toy.motions == ("alpha", "beta")
    assert addresses(toy.stages) == [
        "base",
        "frames@alpha",
        "frames@beta",
        "tune@alpha",
        "tune@beta",
        "report",
    ]
    tune = toy.stage("tune@alpha")
    assert (tune.group, tune.key, set(tune.upstream)) == ("tune", "alpha", {"frames@alpha", "base"})
    assert tune.metrics == ("out/alpha/metrics.json",)


def test_a_motion_needs_its_own_stages_and_the_shared_ones_only(toy: Pipeline):
    assert addresses(toy.motion_stages("beta")) == ["base", "frames@beta", "tune@beta"]


def test_the_cross_motion_report_runs_only_with_all_its_motions(toy: Pipeline):
    assert addresses(toy.joint_stages(["alpha"])) == []
    assert addresses(toy.joint_stages(["alpha", "beta"])) == ["report"]
    assert addresses(toy.plan(["alpha", "beta"])) == addresses(toy.stages)
    assert addresses(toy.plan(["alpha", "beta"], include_joint=False)) == addresses(toy.stages)[:-1]


def test_pipeline_errors_name_the_file_and_the_reason(toy: Pipeline, tmp_path: Path):
    with pytest.raises(FlowError, match=r"no stage is generated for motion 'zeta' \(motions: alpha, beta\)"):
        toy.motion_stages("zeta")
    with pytest.raises(FlowError, match="not a DVC project"):
        Pipeline.load(tmp_path)
    broken = write_toy_project(tmp_path / "broken")
    (broken / "dvc.yaml").write_text("stages:\n  base: [unclosed\n")
    with pytest.raises(FlowError, match=r"DVC cannot read the pipeline.*dvc\.yaml"):
        Pipeline.load(broken)


def test_streaming_splits_lines_and_marks_progress_redraws(tmp_path: Path):
    script = "import sys; sys.stdout.write('a\\r\\nbar 1\\rbar 2\\rdone\\n'); sys.stderr.write('oops')"
    lines: list[tuple[str, bool]] = []
    code = run_streaming(
        [sys.executable, "-c", script + "; sys.exit(4)"], tmp_path, {}, lambda *a: lines.append(a)
    )
    assert code == 4
    assert lines == [("a", False), ("bar 1", True), ("bar 2", True), ("done", False), ("oops", False)]


def test_only_passing_failures_are_transient():
    killed = "ERROR: failed to reproduce 'tune@a': failed to run: python -m stages.tune a, exited with -9"
    busy = "ERROR: failed to reproduce 'base': '/p/out/base.txt' is busy, it is being blocked by:"
    broken = "ERROR: failed to reproduce 'frames@a': failed to run: python step.py, exited with 1"
    assert StageFailed("dvc repro tune@a", "/p", 255, ["...", killed]).transient
    assert StageFailed("dvc repro base", "/p", 255, [busy]).transient
    failed = StageFailed(
        "dvc repro frames@a", "/p", 255, ["> python step.py", "IngestError: x.mp4: empty", broken]
    )
    assert not failed.transient
    assert (
        str(failed).splitlines()[0]
        == f"`dvc repro frames@a` failed (exit 255): IngestError: x.mp4: empty -- {broken}"
    )
    # it crosses process boundaries intact (a Dask worker sends it back pickled)
    assert str(pickle.loads(pickle.dumps(failed))) == str(failed)


def test_gpu_claims_give_each_holder_its_own_device(tmp_path: Path):
    with claim_gpu(["0", "1"], tmp_path) as first, claim_gpu(["0", "1"], tmp_path) as second:
        assert {first, second} == {"0", "1"}
        got: list[str | None] = []
        waiter = threading.Thread(target=lambda: got.append(_claim_once(tmp_path)))
        waiter.start()
        time.sleep(0.3)
        assert got == []  # both devices are held: the third claim waits
    waiter.join(timeout=5)
    assert got in (["0"], ["1"])
    with claim_gpu([], tmp_path) as none:
        assert none is None


def _claim_once(lock_dir: Path) -> str | None:
    with claim_gpu(["0", "1"], lock_dir, poll_s=0.05) as device:
        return device


def test_gpu_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("LAMP_GPU_STAGES", "tune, evaluate")
    assert gpu_stage_groups() == {"tune", "evaluate"}
    assert gpu_stage_groups(["generate"]) == {"generate"}
    monkeypatch.delenv("LAMP_GPU_STAGES")
    assert gpu_stage_groups() == {"base", "tune", "generate"}
    monkeypatch.setenv("LAMP_GPU_SLOTS", "3")
    assert default_gpu_slots() == 3
    monkeypatch.setenv("LAMP_GPU_SLOTS", "two")
    with pytest.raises(FlowError, match="LAMP_GPU_SLOTS"):
        default_gpu_slots()
    monkeypatch.delenv("LAMP_GPU_SLOTS")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert default_gpu_slots() == 1


def test_artifact_keys_metrics_and_progress(tmp_path: Path):
    assert artifact_key("Slide_Right", "metrics") == "lamp-slide-right-metrics"
    assert artifact_key("tune@slide_right", "progress") == "lamp-tune-slide-right-progress"
    (tmp_path / "m.json").write_text('{"clip": {"alignment": 31.5}, "n": 8}')
    rows = read_metrics(tmp_path, ["m.json", "missing.yaml"])
    assert rows[:2] == [
        {"file": "m.json", "metric": "clip.alignment", "value": 31.5},
        {"file": "m.json", "metric": "n", "value": 8},
    ]
    assert rows[2] == {"file": "missing.yaml", "metric": "(missing)", "value": "not in this workspace"}
    (tmp_path / "bad.json").write_text("{not json")
    assert read_metrics(tmp_path, ["bad.json"])[0]["metric"] == "(unreadable)"
    assert parse_progress("Step 30/120 loss 0.1") == 25.0
    assert parse_progress(" 50%|#####     | 60/120 [00:05<00:05]") == 50.0
    assert parse_progress("progress: 9/8") == 100.0
    assert parse_progress("loaded 3/4 clips") is None


def test_sweep_grid_expands_to_every_combination():
    assert expand_grid({"lr": [1, 2], "steps": [10]}) == [{"lr": 1, "steps": 10}, {"lr": 2, "steps": 10}]
    with pytest.raises(FlowError, match="'lr' needs a non-empty list"):
        expand_grid({"lr": "1e-4"})
    assert (format_param(1e-4), format_param("adamw"), format_param([8, 16])) == (
        "0.0001",
        "adamw",
        "[8, 16]",
    )
