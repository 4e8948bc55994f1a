"""Wall time of each pipeline stage, as DVC ran it: one small JSON record per stage and run.

DVC runs every stage command with the environment variable `DVC_STAGE` set to the stage's name
(`tune@slide_right`). A stage's `__main__` calls `run_timed(main)`, which runs it and, under DVC, writes
`reports/timings/<stage>.json` = `{stage, seconds, cpu_seconds, finished_at, exit_code}`.
`python -m stages.timings` turns the records into a table. `cpu_seconds` is the processor time of the
stage's process: on a machine shared with other work, wall seconds grow with the load and CPU seconds
much less, so the two together tell a slow machine from a slow stage. A stage DVC skipped (unchanged)
writes nothing, so its record is older than the run, which is how the table tells "ran" from "cached".
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

from lamp_core.atomic_write import write_text
from lamp_core.errors import LampError
from lamp_core.paths import REPORTS_DIR, TIMINGS_DIR

TIMINGS_FOLDER = Path(REPORTS_DIR) / TIMINGS_DIR
RUN_MARKER = "run.json"  # written when a pipeline run starts (`python -m stages.timings --start`)
STAGE_ENV = "DVC_STAGE"
ROOT_ENV = "DVC_ROOT"


@dataclass(frozen=True)
class StageTime:
    """One stage's run: its DVC name, wall and CPU seconds, when it finished (Unix time), its exit code."""

    stage: str
    seconds: float
    cpu_seconds: float
    finished_at: float
    exit_code: int


def timings_folder(root: str | Path | None = None) -> Path:
    """`reports/timings/` of the repository at `root` (default: DVC's root when DVC runs us, else here)."""
    root = Path(root if root is not None else os.environ.get(ROOT_ENV, "."))
    return root / TIMINGS_FOLDER


def run_timed(main: Callable[[], int]) -> int:
    """Run a stage's `main()` and, when DVC runs it, record its time; returns `main`'s exit code.

    The time counts from the start of the process, so importing torch and the rest is included; CPU time
    includes the subprocesses the stage waited for (ffmpeg). Only the first process records (an
    `accelerate launch` relaunch runs the stage in several). A record that cannot be written is reported
    and does not fail the stage.
    """
    stage = os.environ.get(STAGE_ENV)
    exit_code = main()
    if stage and os.environ.get("RANK", "0") == "0":
        process = psutil.Process()
        cpu = process.cpu_times()
        now = time.time()
        record = StageTime(
            stage,
            now - process.create_time(),
            cpu.user + cpu.system + cpu.children_user + cpu.children_system,
            now,
            int(exit_code or 0),
        )
        try:
            write_stage_time(record, timings_folder())
        except LampError as exc:
            print(f"warning: {timings_folder()}: cannot record the stage's time ({exc})", flush=True)
    return exit_code


def write_stage_time(record: StageTime, folder: str | Path) -> Path:
    """Write `record` to `<folder>/<stage>.json` (a temporary name, then a rename)."""
    return write_text(Path(folder) / f"{record.stage}.json", json.dumps(asdict(record)) + "\n")


def read_stage_times(folder: str | Path) -> dict[str, StageTime]:
    """Every stage record in `folder`, by stage name; unreadable records are skipped."""
    records = {}
    for path in sorted(Path(folder).glob("*.json")):
        if path.name == RUN_MARKER:
            continue
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            record = StageTime(
                str(data["stage"]),
                float(data["seconds"]),
                float(data["cpu_seconds"]),
                float(data["finished_at"]),
                int(data["exit_code"]),
            )
        except (OSError, ValueError, KeyError, TypeError):
            continue
        records[record.stage] = record
    return records


def mark_run_start(folder: str | Path) -> float:
    """Record that a pipeline run starts now (`<folder>/run.json`); returns the time written."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    started = time.time()
    (folder / RUN_MARKER).write_text(json.dumps({"started_at": started}) + "\n", encoding="utf-8")
    return started


def run_start(folder: str | Path) -> float | None:
    """When the current pipeline run started (see `mark_run_start`), or None if unrecorded."""
    try:
        return float(json.loads((Path(folder) / RUN_MARKER).read_text(encoding="utf-8"))["started_at"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
