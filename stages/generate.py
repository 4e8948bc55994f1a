"""DVC stage `generate`: sample motion <name>'s evaluation prompts with the tuned and the untuned model.

python -m stages.generate slide_right

Reads data/motions/<name>/ (the tuned motion artifact), params.yaml (`evaluation.<name>.eval_prompts`,
`generate:`, `base.model`) and writes data/samples/<name>/{tuned,untuned}/ plus a contact sheet.
"""

from __future__ import annotations

import argparse
import logging
import sys

from lamp_core.errors import LampError
from lamp_core.params import PARAMS_FILE, evaluation_entry, load_params, motion_config
from lamp_core.paths import DATA_DIR, motion_paths
from lamp_core.sampling import GenerateSettings, generate_motion_samples, parse_eval_prompts
from lamp_core.stage_timing import run_timed
from lamp_core.training import base_source


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stages.generate", description=__doc__.splitlines()[0])
    parser.add_argument("name", help="a motion of `motions:` in params.yaml")
    parser.add_argument("--params", default=PARAMS_FILE, help="parameters file (default: %(default)s)")
    parser.add_argument("--data-dir", default=DATA_DIR, help="data folder (default: %(default)s)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s")
    try:
        paths = motion_paths(args.name, args.data_dir)
        motion_dir, out_dir = paths.motion, paths.samples
        params = load_params(args.params)
        motion = motion_config(params, args.name)
        settings = GenerateSettings.from_params(params.get("generate"))
        prompts = parse_eval_prompts(
            args.name, evaluation_entry(params, args.name).get("eval_prompts"), settings.seed
        )
        if not motion_dir.is_dir():
            raise LampError(
                f"{motion_dir}: no motion artifact (run the tune stage: dvc repro tune@{args.name})"
            )
        timings = generate_motion_samples(
            motion=motion,
            prompts=prompts,
            motion_dir=motion_dir,
            base_source=base_source(params),
            out_dir=out_dir,
            settings=settings,
        )
    except LampError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(
        f"generate {args.name}: {len(prompts)} videos x 2 variants of {motion.n_frames} frames at "
        f"{motion.width}x{motion.height}, {settings.sampling.num_inference_steps} steps, in {out_dir} "
        f"({timings['tuned_seconds_per_video']:.1f} s/video tuned, "
        f"{timings['untuned_seconds_per_video']:.1f} s/video untuned)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(run_timed(main))
