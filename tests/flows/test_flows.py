"""The flows run for real against throwaway DVC projects (see toy_dvc_project.py) on a Prefect test server."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from prefect import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterKey,
    FlowRunFilter,
    FlowRunFilterId,
)
from toy_dvc_project import dvc, starts, write_toy_project

from flows.gpu import GPU_TAG
from flows.motions import FAILED, NOT_RUN, RAN, UP_TO_DATE, MotionsFailed, motions_flow
from flows.sweep import sweep_flow

pytestmark = pytest.mark.usefixtures("prefect_server")
REPO = Path(__file__).resolve().parents[2]


def task_runs(state) -> dict:
    """The task runs of the flow run that ended in `state`, by name (the stage address)."""
    flow_run_id = state.state_details.flow_run_id
    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
    return {run.name: run for run in runs}


def latest_artifact(key: str):
    with get_client(sync_client=True) as client:
        found = client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])))
    assert found, f"no artifact {key!r}"
    return max(found, key=lambda a: a.created)


def overlaps(a, b) -> bool:
    return a.start_time < b.end_time and b.start_time < a.end_time


def test_one_motion_retries_a_killed_stage_ends_as_dvc_repro_does_and_shares_via_remote(tmp_path: Path):
    flow_root = write_toy_project(tmp_path / "flow", motions=["alpha"], report=False)
    repro_root = write_toy_project(tmp_path / "repro", motions=["alpha"], report=False)
    dvc(flow_root, "remote", "add", "-d", "shared", str(tmp_path / "remote"))
    (flow_root / "FLAKY-tune@alpha").touch()  # the first try of tune is killed, as by the OOM killer

    state = motions_flow(["alpha"], root=str(flow_root), retries=2, retry_delay_s=0, return_state=True)
    dvc(repro_root, "repro")

    (outcome,) = state.result().motions
    assert [s.stage for s in outcome.stages] == ["base", "frames@alpha", "tune@alpha"]
    assert all(s.status == RAN for s in outcome.stages)
    # The retry ran tune again and nothing else: DVC skipped the finished stages above it.
    assert task_runs(state)["tune@alpha"].run_count == 2
    assert outcome.stages[-1].run.ran == ("tune@alpha",)
    assert starts(flow_root) == {"base": 1, "frames@alpha": 1, "tune@alpha": 2}
    # Entry for entry the same lock file as `dvc repro`'s; DVC writes a stage's entry when it first
    # finishes, so only the order of entries may differ where stages ran side by side.
    assert yaml.safe_load((flow_root / "dvc.lock").read_text()) == yaml.safe_load(
        (repro_root / "dvc.lock").read_text()
    )
    assert json.loads(dvc(flow_root, "status", "--json")) == {}
    # The flow pushed every cached output: the remote holds all the workspace has.
    assert json.loads(dvc(flow_root, "status", "--cloud", "--json")) == {}
    assert len([p for p in (tmp_path / "remote").rglob("*") if p.is_file()]) == 4
    metrics = json.loads(latest_artifact("lamp-alpha-metrics").data)
    assert {"file": "out/alpha/metrics.json", "metric": "loss", "value": 1.0} in metrics
    summary = latest_artifact("lamp-alpha-summary").data
    assert (flow_root / "out/alpha/sample.gif").as_uri() in summary
    assert latest_artifact("lamp-tune-alpha-progress").data == 100.0
    # A fresh worker with the project's files and the remote pulls the results instead of recomputing them.
    worker = tmp_path / "worker"
    for name in ("step.py", "dvc.yaml", "params.yaml", "dvc.lock", ".dvc/config"):
        (worker / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(flow_root / name, worker / name)
    (pulled,) = motions_flow(["alpha"], root=str(worker), pull=True, push=False).motions
    assert [s.status for s in pulled.stages] == [UP_TO_DATE] * 3 and not (worker / "events.jsonl").exists()
    assert (worker / "out/alpha/sample.gif").read_bytes() == (flow_root / "out/alpha/sample.gif").read_bytes()


def test_motions_flow_isolates_a_failure_serialises_gpu_and_resumes(tmp_path: Path):
    root = write_toy_project(tmp_path / "p", motions=["alpha", "beta", "gamma"])
    (root / "FAIL-frames@gamma").touch()

    state = motions_flow(root=str(root), retries=2, retry_delay_s=0, return_state=True)

    assert state.is_failed()
    error = state.result(raise_on_failure=False)
    assert isinstance(error, MotionsFailed)
    summary = error.summary
    assert summary.succeeded == ["alpha", "beta"] and summary.failed == ["gamma"]
    gamma = {s.stage: s for s in summary.motions[2].stages}
    assert gamma["frames@gamma"].status == FAILED and "told to fail" in gamma["frames@gamma"].error
    assert gamma["tune@gamma"].status == NOT_RUN
    assert [s.status for s in summary.joint] == [NOT_RUN]  # the report needs gamma
    first = starts(root)
    assert first == {s: 1 for s in first} and "tune@gamma" not in first  # a real failure is not retried
    runs = task_runs(state)
    assert runs["base"].run_count == 1  # one task ran the shared stage for all three motions
    assert overlaps(runs["frames@alpha"], runs["frames@beta"])  # CPU stages run side by side ...
    assert not overlaps(runs["tune@alpha"], runs["tune@beta"])  # ... GPU stages one at a time

    (root / "FAIL-frames@gamma").unlink()
    summary = motions_flow(root=str(root), retry_delay_s=0)

    assert summary.failed == [] and [s.status for s in summary.joint] == [RAN]
    statuses = {s.stage: s.status for m in summary.motions for s in m.stages}
    assert statuses["frames@gamma"] == RAN
    assert all(statuses[s] == UP_TO_DATE for s in ("base", "frames@alpha", "tune@alpha", "tune@beta"))
    second = starts(root)
    assert {s: second[s] - first.get(s, 0) for s in second if second[s] != first.get(s, 0)} == {
        "frames@gamma": 1,
        "tune@gamma": 1,
        "report": 1,
    }
    assert json.loads(dvc(root, "status", "--json")) == {}


def test_sweep_runs_experiments_through_dvcs_queue_and_tabulates_metrics(tmp_path: Path):
    root = write_toy_project(tmp_path / "p", motions=["alpha"], report=False, git=True)
    params_before = (root / "params.yaml").read_text()

    state = sweep_flow("alpha", {"motions.alpha.lr": [0.2, 0.3]}, root=str(root), return_state=True)

    rows = state.result()
    assert [(r["motions.alpha.lr"], r["loss"], r["status"]) for r in rows] == [
        (0.2, 2.0, "done"),
        (0.3, 3.0, "done"),
    ]
    assert json.loads(latest_artifact("lamp-alpha-sweep").data) == json.loads(json.dumps(rows))
    assert (root / "params.yaml").read_text() == params_before  # the workspace is untouched
    experiments = dvc(root, "exp", "list", "--name-only").split()
    assert sorted(experiments) == sorted(r["experiment"] for r in rows)
    queue = dvc(root, "queue", "status")
    assert all(f"{r['experiment']}" in queue for r in rows) and queue.count("Success") == 2
    runs = task_runs(state)
    assert GPU_TAG in runs["run queue"].tags  # the queue run holds a GPU slot: tune is a GPU stage
    # An experiment that fails is reported by name, with the others' results.
    state = sweep_flow("alpha", {"motions.alpha.lr": [0.4, "abc"]}, root=str(root), return_state=True)
    error = state.result(raise_on_failure=False)
    assert "1 of 2 experiments failed" in str(error) and "dvc queue logs" in str(error)


def test_motions_flow_fans_out_over_a_dask_cluster(tmp_path: Path):
    from flows.motions import dask_task_runner

    root = write_toy_project(tmp_path / "p", motions=["alpha", "beta"], report=False)
    on_dask = motions_flow.with_options(task_runner=dask_task_runner(workers=2))

    summary = on_dask(root=str(root), retry_delay_s=0)

    assert summary.succeeded == ["alpha", "beta"]
    pids = {s.run.pid for m in summary.motions for s in m.stages}
    assert len(pids) == 2  # the stages ran in both worker processes
    assert json.loads(dvc(root, "status", "--json")) == {}
    assert yaml.safe_load((root / "dvc.lock").read_text())["stages"].keys() == {
        "base",
        "frames@alpha",
        "frames@beta",
        "tune@alpha",
        "tune@beta",
    }


def test_one_motion_runs_this_repos_data_stages_as_dvc_repro_does(tmp_path: Path):
    flow_root, repro_root = copy_of_this_repo(tmp_path / "flow"), copy_of_this_repo(tmp_path / "repro")
    params = yaml.safe_load((flow_root / "params.yaml").read_text())
    motion = next(name for name in params["examples"] if name in params["motions"])  # a built-in motion
    data_stages = [f"examples@{motion}", f"ingest@{motion}", f"frames@{motion}"]

    summary = motions_flow([motion], root=str(flow_root), stages=["frames"], retry_delay_s=0)
    (outcome,) = summary.motions
    assert summary.joint == ()  # only the asked stages: not the report
    dvc(repro_root, "repro", f"frames@{motion}")

    assert [(s.stage, s.status) for s in outcome.stages] == [(s, RAN) for s in data_stages]
    assert yaml.safe_load((flow_root / "dvc.lock").read_text()) == yaml.safe_load(
        (repro_root / "dvc.lock").read_text()
    )
    assert json.loads(dvc(flow_root, "status", *data_stages, "--json")) == {}
    assert (flow_root / "data" / "frames" / motion / "clips.safetensors").is_file()


def copy_of_this_repo(dest: Path) -> Path:
    """This repository's files as git sees them (ignored ones left out), in a new git repository."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    for name in listed:
        source = REPO / name
        if source.is_file() and not name.startswith("tests/"):
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    subprocess.run(["git", "init", "-q"], cwd=dest, check=True)
    return dest


def test_a_flow_names_a_missing_motion(tmp_path: Path):
    root = write_toy_project(tmp_path / "p", motions=["alpha"], report=False)
    state = motions_flow(["zeta"], root=str(root), return_state=True)
    error = state.result(raise_on_failure=False)
    assert "no stage is generated for motion 'zeta' (motions: alpha)" in str(error)
