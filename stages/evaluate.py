"""DVC stage `evaluate`: data/samples/<motion>/{tuned,untuned}/ -> reports/<motion>/ (metrics, videos).

python -m stages.evaluate slide_right

Measures the tuned and the untuned model's samples against the motion's reference clips
(data/frames/<motion>/), and writes reports/<motion>/metrics.json (DVC metrics), videos.csv, media/ (GIFs
for the HTML page) and reports/evaluations/<motion>.json (what the report stage reads).
"""

from __future__ import annotations

import argparse
import logging
import sys

from lamp_core.data import load_frame_cache
from lamp_core.errors import LampError, MetricUnavailable
from lamp_core.metrics import ClipScorer, MetricsSettings
from lamp_core.params import PARAMS_FILE, evaluation_entry, load_params, motion_config
from lamp_core.paths import DATA_DIR, REPORTS_DIR, motion_paths
from lamp_core.report import EvaluateSettings, evaluate_motion, load_motion_samples, write_motion_outputs
from lamp_core.stage_timing import run_timed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stages.evaluate", description=__doc__.splitlines()[0])
    parser.add_argument("motion", help="an entry of `motions:` in params.yaml")
    parser.add_argument("--params", default=PARAMS_FILE, help="parameters file (default: %(default)s)")
    parser.add_argument("--data-dir", default=DATA_DIR, help="data folder (default: %(default)s)")
    parser.add_argument("--reports-dir", default=REPORTS_DIR, help="reports folder (default: %(default)s)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s")
    try:
        params = load_params(args.params)
        motion = motion_config(params, args.motion)
        settings = MetricsSettings.from_params(params)
        evaluate = EvaluateSettings.from_params(params)
        paths = motion_paths(args.motion, args.data_dir, args.reports_dir)
        frames_dir = paths.frames
        samples = load_motion_samples(paths.samples)
        references = load_frame_cache(frames_dir)
        try:
            scorer: ClipScorer | MetricUnavailable = ClipScorer.load(
                settings.clip_model, settings.clip_pretrained
            )
        except MetricUnavailable as reason:
            logging.warning("CLIP metrics unavailable: %s", reason.reason)
            scorer = reason
        evaluation = evaluate_motion(
            motion,
            samples,
            references,
            settings,
            scorer,
            expected_motion=evaluation_entry(params, args.motion).get("expected_motion"),
        )
        folder = write_motion_outputs(
            evaluation,
            samples,
            references,
            args.reports_dir,
            n_reference_gifs=evaluate.reference_gifs,
            sample_rate=motion.sample_rate,
        )
    except LampError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"evaluate {args.motion}: {_learned_line(evaluation.metrics)}; wrote {folder}/")
    return 0


def _learned_line(metrics: dict) -> str:
    parts = []
    for group in ("tuned", "untuned", "reference"):
        value = metrics[group].get("learned_fraction")
        parts.append(f"{group} {'n/a' if value is None else f'{value:.0%}'}")
    return f"{metrics['n_videos']} videos per model; learned motion: " + ", ".join(parts)


if __name__ == "__main__":
    sys.exit(run_timed(main))
