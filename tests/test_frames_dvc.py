"""`dvc repro frames@slide_right` in a copy of the repository builds raw videos, clips, manifest, frame
cache and captions; a second `dvc repro` runs nothing."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from lamp_core.data import load_frame_cache, read_manifest

REPO = Path(__file__).resolve().parents[1]
OUR_STAGES = ("examples", "ingest", "frames")


def _copy_project(dst: Path) -> None:
    """The parts of the repository these stages need, and a dvc.yaml with only these stages."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for folder in ("lamp_core", "stages"):
        shutil.copytree(REPO / folder, dst / folder, ignore=ignore)
    shutil.copy(REPO / "params.yaml", dst / "params.yaml")
    pipeline = yaml.safe_load((REPO / "dvc.yaml").read_text(encoding="utf-8"))
    pipeline["stages"] = {name: pipeline["stages"][name] for name in OUR_STAGES}
    (dst / "dvc.yaml").write_text(yaml.safe_dump(pipeline, sort_keys=False), encoding="utf-8")


def _dvc(project: Path, *args: str) -> str:
    bin_dir = str(Path(sys.executable).parent)
    env = {
        **os.environ,
        "PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""),
        "PYTHONPATH": str(project),
    }
    done = subprocess.run(
        [str(Path(bin_dir) / "dvc"), *args], cwd=project, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _tree(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*")}


def test_dvc_repro_builds_the_example_motion_then_is_a_no_op(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    _copy_project(project)
    _dvc(project, "init", "--no-scm", "-q")

    first = _dvc(project, "repro", "frames@slide_right")
    for stage in ("examples@slide_right", "ingest@slide_right", "frames@slide_right"):
        assert f"Running stage '{stage}'" in first
    data = project / "data"
    raw = sorted(p.name for p in (data / "raw" / "slide_right").iterdir())
    assert raw == ["captions.csv"] + [f"slide_right_{k:03d}.mp4" for k in range(12)]
    rows = read_manifest(data / "clips" / "slide_right" / "manifest.csv")
    assert len(rows) == 12 and all(row.ok and len(row.clips) == 1 for row in rows)
    params = yaml.safe_load((project / "params.yaml").read_text(encoding="utf-8"))
    defaults = params["defaults"]
    shape = (params["examples"]["slide_right"]["n_frames"], defaults["height"], defaults["width"], 3)
    cache = load_frame_cache(data / "frames" / "slide_right")
    assert len(cache.clips) == 12 and all(clip.shape == shape for clip in cache.clips.values())
    assert set(cache.captions.values()) == {params["motions"]["slide_right"]["prompt"]}

    before = _tree(data)
    second = _dvc(project, "repro", "frames@slide_right")
    assert "Running stage" not in second
    assert "Data and pipelines are up to date." in second
    assert _tree(data) == before
