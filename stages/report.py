"""DVC stage `report`: every motion's evaluation -> reports/compare.md, reports/index.html, bar plot data.

python -m stages.report

Reads reports/evaluations/<motion>.json for each motion of params.yaml (written by `evaluate@<motion>`)
and writes reports/compare.md, reports/index.html and reports/motion_metrics.csv (DVC plots).
"""

from __future__ import annotations

import argparse
import sys

from lamp_core.errors import LampError
from lamp_core.params import PARAMS_FILE, load_params
from lamp_core.paths import REPORTS_DIR
from lamp_core.report import write_cross_motion_report
from lamp_core.stage_timing import run_timed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stages.report", description=__doc__.splitlines()[0])
    parser.add_argument("--params", default=PARAMS_FILE, help="parameters file (default: %(default)s)")
    parser.add_argument("--reports-dir", default=REPORTS_DIR, help="reports folder (default: %(default)s)")
    args = parser.parse_args(argv)
    try:
        motions = load_params(args.params).get("motions") or {}
        if not isinstance(motions, dict) or not motions:
            raise LampError(f"{args.params}: `motions:` lists no motion to report on")
        paths = write_cross_motion_report(list(motions), args.reports_dir)
    except LampError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"report: {len(motions)} motion(s) -> {', '.join(str(path) for path in paths)}")
    return 0


if __name__ == "__main__":
    sys.exit(run_timed(main))
