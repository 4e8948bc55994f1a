"""dvc.yaml and lamp_core.paths name the same folders: a stage writes where DVC expects its outputs."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from lamp_core.errors import LampError
from lamp_core.paths import (
    COMPARE_FILE,
    EVALUATIONS_DIR,
    INDEX_FILE,
    PLOTS_FILE,
    REPORTS_DIR,
    motion_paths,
)

REPO = Path(__file__).resolve().parents[1]
MOTION = "some_motion"


def _stages() -> dict[str, dict]:
    """dvc.yaml's stages, a foreach stage's template filled in for motion MOTION."""
    text = (REPO / "dvc.yaml").read_text(encoding="utf-8").replace("${key}", MOTION)
    stages = yaml.safe_load(text)["stages"]
    return {name: stage.get("do", stage) for name, stage in stages.items()}


def _declared(stage: dict, field: str) -> set[Path]:
    entries = stage.get(field) or []
    return {Path(next(iter(entry)) if isinstance(entry, dict) else entry) for entry in entries}


P = motion_paths(MOTION)
EXPECTED = {
    # stage: (data dependencies, outs, metrics, plots)
    "examples": (set(), {P.raw}, set(), set()),
    "ingest": ({P.raw}, {P.clips}, set(), set()),
    "frames": ({P.clips}, {P.frames}, set(), set()),
    "tune": ({P.frames}, {P.motion, P.tune_validation}, {P.tune_metrics}, {P.tune_plots}),
    "generate": ({P.motion}, {P.samples}, set(), set()),
    "evaluate": ({P.samples, P.frames}, {P.videos_table, P.media, P.evaluation}, {P.metrics}, set()),
    "report": (
        {Path(REPORTS_DIR) / EVALUATIONS_DIR},
        {Path(REPORTS_DIR) / COMPARE_FILE, Path(REPORTS_DIR) / INDEX_FILE},
        set(),
        {Path(REPORTS_DIR) / PLOTS_FILE},
    ),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_stage_declares_the_paths_its_code_reads_and_writes(name: str) -> None:
    stage = _stages()[name]
    deps, outs, metrics, plots = EXPECTED[name]
    data_deps = {p for p in _declared(stage, "deps") if p.parts[0] in ("data", REPORTS_DIR)}
    assert data_deps == deps
    assert _declared(stage, "outs") == outs
    assert _declared(stage, "metrics") == metrics
    assert _declared(stage, "plots") == plots


def test_every_stage_of_dvc_yaml_is_checked_and_checkpoints_are_no_output() -> None:
    stages = _stages()
    assert set(stages) == set(EXPECTED) | {"base"}
    declared = set().union(*(_declared(s, f) for s in stages.values() for f in ("outs", "metrics", "plots")))
    assert P.checkpoints not in declared  # DVC deletes outputs before a re-run: a resume needs them kept
    assert P.manifest.parent == P.clips and P.tune_validation.parent == P.tune_reports


def test_a_motion_name_unfit_for_a_folder_is_refused_with_its_name() -> None:
    for bad in ("../etc", ".hidden", "a/b", "-x", ""):
        with pytest.raises(LampError, match="motion name"):
            motion_paths(bad)
