"""Stage timings: what a stage records under DVC, and how `stages.timings` tells ran from cached."""

from __future__ import annotations

import time
from pathlib import Path

import psutil
import pytest

from lamp_core.stage_timing import (
    StageTime,
    mark_run_start,
    read_stage_times,
    run_start,
    run_timed,
    write_stage_time,
)
from stages.timings import format_table


def test_a_stage_run_by_dvc_records_its_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DVC_STAGE", "tune@slide_right")
    monkeypatch.setenv("DVC_ROOT", str(tmp_path))
    process_age_before = time.time() - psutil.Process().create_time()
    assert run_timed(lambda: 0) == 0
    process_age_after = time.time() - psutil.Process().create_time()
    record = read_stage_times(tmp_path / "reports" / "timings")["tune@slide_right"]
    assert record.exit_code == 0
    # The time counts from the start of the process (imports included), not from the call.
    assert process_age_before <= record.seconds <= process_age_after and record.cpu_seconds >= 0
    assert abs(record.finished_at - time.time()) < 60


def test_a_failing_stage_keeps_its_exit_code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DVC_STAGE", "report")
    monkeypatch.setenv("DVC_ROOT", str(tmp_path))
    assert run_timed(lambda: 1) == 1
    assert read_stage_times(tmp_path / "reports" / "timings")["report"].exit_code == 1


def test_outside_dvc_nothing_is_recorded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DVC_STAGE", raising=False)
    monkeypatch.chdir(tmp_path)
    assert run_timed(lambda: 0) == 0
    assert not (tmp_path / "reports").exists()


def test_the_table_counts_only_this_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "reports" / "timings"
    write_stage_time(StageTime("frames@orbit", 5.0, 4.0, time.time() - 3600, 0), folder)
    started = mark_run_start(folder)
    assert run_start(folder) == pytest.approx(started)
    write_stage_time(StageTime("tune@orbit", 100.0, 90.0, started + 100, 0), folder)
    write_stage_time(StageTime("generate@orbit", 20.0, 19.0, started + 120, 0), folder)

    stages = ["frames@orbit", "tune@orbit", "generate@orbit", "report"]
    lines, total = format_table(stages, started, started + 130)
    table = "\n".join(lines)
    assert total == pytest.approx(120.0)
    assert "cached (took 5.0 s" in table
    assert "cached (never timed)" in table
    assert [line.split()[-1] for line in lines if line.startswith(("tune@", "generate@"))] == ["ran", "ran"]
