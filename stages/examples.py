"""DVC stage `examples`: render built-in example motion <name> into data/raw/<name>/.

python -m stages.examples slide_right
"""

from __future__ import annotations

import argparse
import logging
import sys

from lamp_core.data import ExampleSpec, render_examples
from lamp_core.errors import LampError
from lamp_core.params import PARAMS_FILE, load_params
from lamp_core.paths import DATA_DIR, motion_paths
from lamp_core.stage_timing import run_timed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stages.examples", description=__doc__.splitlines()[0])
    parser.add_argument("name", help="an entry of `examples:` in params.yaml")
    parser.add_argument("--params", default=PARAMS_FILE, help="parameters file (default: %(default)s)")
    parser.add_argument("--data-dir", default=DATA_DIR, help="data folder (default: %(default)s)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s")
    try:
        spec = ExampleSpec.from_params(load_params(args.params), args.name)
        out_dir = motion_paths(args.name, args.data_dir).raw
        paths = render_examples(spec, out_dir)
    except LampError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(
        f"examples {args.name}: {len(paths)} clips of {spec.n_frames} frames "
        f"at {spec.width}x{spec.height} in {out_dir}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(run_timed(main))
