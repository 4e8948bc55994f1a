"""Where every stage reads and writes: the one place a data or report folder is spelt.

dvc.yaml declares the same paths as the stages' deps and outs; tests/test_paths.py reads dvc.yaml and
checks that the two agree. One motion's data, from the user's videos to its report:

    data/raw/<m>/ -> data/clips/<m>/ -> data/frames/<m>/ -> data/motions/<m>/ -> data/samples/<m>/
    -> reports/<m>/ and reports/evaluations/<m>.json -> reports/compare.md, index.html, motion_metrics.csv
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from lamp_core.errors import LampError

DATA_DIR = "data"
REPORTS_DIR = "reports"
MANIFEST_FILE = "manifest.csv"
EVALUATIONS_DIR = "evaluations"  # reports/evaluations/<motion>.json, what the report stage reads
COMPARE_FILE = "compare.md"
INDEX_FILE = "index.html"
PLOTS_FILE = "motion_metrics.csv"
TIMINGS_DIR = "timings"  # reports/timings/<stage>.json
VALIDATION_DIR = "validation"  # reports/<motion>/tune/validation/, the validation videos of tuning
# A sample folder (data/samples/<motion>/tuned/ and untuned/): the exact frames, and a row per video.
SAMPLE_VIDEOS_FILE = "videos.safetensors"
SAMPLE_INDEX_FILE = "index.csv"
# A sample folder's variants and the columns of its index.csv: the contract between the generate stage
# (lamp_core/sampling writes it) and the evaluate stage (lamp_core/report reads it).
SAMPLE_VARIANTS = ("tuned", "untuned")
SAMPLE_INDEX_COLUMNS = (
    "video_id",
    "prompt",
    "negative_prompt",
    "seed",
    "first_frame_source",
    "first_frame_png",
    "scene_json",
    "mp4",
    "gif",
    "n_frames",
    "fps",
    "width",
    "height",
)

# Motion names become folder names: keep them to plain, portable characters.
_MOTION_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


@dataclass(frozen=True)
class MotionPaths:
    """Every folder and file of one motion, stage by stage."""

    raw: Path  # the user's videos (or the rendered examples)      examples -> ingest
    clips: Path  # normalised clips and manifest.csv                ingest -> frames
    frames: Path  # the frame cache                                  frames -> tune, evaluate
    motion: Path  # the tuned motion artifact                        tune -> generate
    checkpoints: Path  # resumable checkpoints (not a DVC output: DVC would delete them)
    tune_reports: Path  # dvclive log (metrics.json, plots/metrics/) and validation/ videos
    samples: Path  # evaluation videos of the tuned and the untuned model   generate -> evaluate
    reports: Path  # metrics.json (DVC metrics), videos.csv, media/        evaluate
    evaluation: Path  # page data of the motion                           evaluate -> report

    @property
    def manifest(self) -> Path:
        return self.clips / MANIFEST_FILE

    @property
    def tune_validation(self) -> Path:
        return self.tune_reports / VALIDATION_DIR

    @property
    def tune_metrics(self) -> Path:
        return self.tune_reports / "metrics.json"

    @property
    def tune_plots(self) -> Path:
        return self.tune_reports / "plots" / "metrics"

    @property
    def metrics(self) -> Path:
        return self.reports / "metrics.json"

    @property
    def videos_table(self) -> Path:
        return self.reports / "videos.csv"

    @property
    def media(self) -> Path:
        return self.reports / "media"


def motion_paths(
    name: str, data_dir: str | Path = DATA_DIR, reports_dir: str | Path = REPORTS_DIR
) -> MotionPaths:
    """The paths of motion `name` under `data_dir` and `reports_dir`; LampError for a name unfit for one."""
    if not _MOTION_NAME.fullmatch(name) or ".." in name:
        raise LampError(
            f"params.yaml: motion name {name!r} must be letters, digits, '_', '.' or '-', "
            "not starting with '-' or '.'"
        )
    data, reports = Path(data_dir), Path(reports_dir)
    return MotionPaths(
        raw=data / "raw" / name,
        clips=data / "clips" / name,
        frames=data / "frames" / name,
        motion=data / "motions" / name,
        checkpoints=data / "checkpoints" / name,
        tune_reports=reports / name / "tune",
        samples=data / "samples" / name,
        reports=reports / name,
        evaluation=evaluation_path(reports, name),
    )


def evaluation_path(reports_dir: str | Path, motion: str) -> Path:
    """Where the page data of `motion` lives: `<reports_dir>/evaluations/<motion>.json`."""
    return Path(reports_dir) / EVALUATIONS_DIR / f"{motion}.json"
