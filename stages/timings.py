"""Print how long each stage of the last pipeline run took: `make demo` runs this after `dvc repro`.

python -m stages.timings            # the table: every stage, its seconds, ran or cached, and the totals
python -m stages.timings --start    # note that a run starts now (`make demo` does this before `dvc repro`)

Stages record their own wall time when DVC runs them (lamp_core/stage_timing.py). A stage with no record
newer than the run's start was not run this time (DVC found it unchanged): it is listed as cached, with
the time it took when it last ran. The totals count only the stages that ran. `cpu s` is the processor
time of the stage's process (all its threads): on a machine shared with other work, wall seconds grow
with the load and CPU seconds much less.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime

from lamp_core.stage_timing import mark_run_start, read_stage_times, run_start, timings_folder


def pipeline_stages() -> list[str]:
    """The stage names of dvc.yaml in DVC's order (`tune@slide_right`, ...)."""
    from dvc.repo import Repo  # imported here: `--start` must not wait for DVC

    with Repo(".") as repo:
        return [stage.addressing for stage in repo.index.stages]


def format_table(stages: list[str], started: float | None, now: float) -> tuple[list[str], float]:
    """The table's lines and the seconds of the stages that ran in this run."""
    records = read_stage_times(timings_folder())
    width = max(len(name) for name in [*stages, "stage"])
    lines = [
        f"{'stage':<{width}}  {'wall s':>8}  {'cpu s':>8}  status",
        f"{'-' * width}  {'-' * 8}  {'-' * 8}  {'-' * 24}",
    ]
    total = total_cpu = 0.0
    for name in stages:
        record = records.get(name)
        if record is None:
            lines.append(f"{name:<{width}}  {'':>8}  {'':>8}  cached (never timed)")
        elif started is not None and record.finished_at < started:
            when = datetime.fromtimestamp(record.finished_at).strftime("%Y-%m-%d %H:%M")
            lines.append(f"{name:<{width}}  {'':>8}  {'':>8}  cached (took {record.seconds:.1f} s on {when})")
        else:
            total += record.seconds
            total_cpu += record.cpu_seconds
            status = "ran" if record.exit_code == 0 else f"failed (exit code {record.exit_code})"
            lines.append(f"{name:<{width}}  {record.seconds:>8.1f}  {record.cpu_seconds:>8.1f}  {status}")
    lines.append(f"{'-' * width}  {'-' * 8}  {'-' * 8}")
    lines.append(f"{'stages that ran':<{width}}  {total:>8.1f}  {total_cpu:>8.1f}")
    if started is not None:
        lines.append(f"{'whole run (DVC too)':<{width}}  {now - started:>8.1f}")
    return lines, total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stages.timings", description=__doc__.splitlines()[0])
    parser.add_argument("--start", action="store_true", help="note that a pipeline run starts now")
    args = parser.parse_args(argv)
    folder = timings_folder()
    if args.start:
        mark_run_start(folder)
        return 0
    now = time.time()
    started = run_start(folder)
    if started is None:
        print(f"note: {folder}: no run start recorded; every timed stage is shown as ran")
    lines, _ = format_table(pipeline_stages(), started, now)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
