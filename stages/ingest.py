"""DVC stage `ingest`: data/raw/<motion>/ -> normalised clips and manifest.csv in data/clips/<motion>/.

python -m stages.ingest slide_right
"""

from __future__ import annotations

import argparse
import logging
import sys

from lamp_core.data import IngestSettings, ingest_motion
from lamp_core.errors import LampError
from lamp_core.params import PARAMS_FILE, load_params, motion_config
from lamp_core.paths import DATA_DIR, motion_paths
from lamp_core.stage_timing import run_timed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stages.ingest", description=__doc__.splitlines()[0])
    parser.add_argument("motion", help="an entry of `motions:` in params.yaml")
    parser.add_argument("--params", default=PARAMS_FILE, help="parameters file (default: %(default)s)")
    parser.add_argument("--data-dir", default=DATA_DIR, help="data folder (default: %(default)s)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s")
    try:
        params = load_params(args.params)
        settings = IngestSettings.from_params(params, motion_config(params, args.motion))
        paths = motion_paths(args.motion, args.data_dir)
        report = ingest_motion(paths.raw, paths.clips, settings)
    except LampError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(
        f"ingest {args.motion}: {report.n_clips} clips from {len(report.rows)} files "
        f"({len(report.rejected)} rejected, {report.reused} unchanged) in {paths.clips}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(run_timed(main))
