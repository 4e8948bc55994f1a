"""One built-in motion end to end on the library path, with settings changed: the ablation of the default.

    python -m benchmarks.ablation slide_right                              # params.yaml as it is
    python -m benchmarks.ablation zoom_in -S tune.steps=600                # a tuning setting changed
    python -m benchmarks.ablation roll -G generate.guidance_scale=1 -G generate.adain=false
                                                                           # one tuning, two samplings

Renders the motion's examples, ingests them, builds the frame cache, tunes (`tune:` with the motion's
overrides and any `-S`), then samples the motion's evaluation prompts with the tuned and the untuned model
once per sampling variant (`-G key=value[,key=value...]`, or params.yaml's `generate:` when none is given),
and evaluates them as the evaluate stage does. Prints one table row per variant: learned fraction tuned
and untuned, coherence and warping error (tuned, and the reference clips'), continuation PSNR tuned and
untuned. Everything happens in a temporary folder (`--keep DIR` keeps it, contact sheets included); the
rows also go to `--out` as JSON lines. The proof test (tests/test_motion_learned.py) runs the same path.
"""

from __future__ import annotations

import argparse
import copy
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
import yaml

from lamp_core.data import (
    CaptionSpec,
    ExampleSpec,
    IngestSettings,
    build_frame_cache,
    ingest_motion,
    load_frame_cache,
    render_examples,
)
from lamp_core.errors import MetricUnavailable
from lamp_core.metrics import MetricsSettings
from lamp_core.params import PARAMS_FILE, evaluation_entry, load_params, motion_config
from lamp_core.report import evaluate_motion, load_motion_samples
from lamp_core.report.evaluation import MotionEvaluation
from lamp_core.sampling import GenerateSettings, generate_motion_samples, parse_eval_prompts
from lamp_core.training import ModelSettings, TuneJob, TunePaths, TuneSettings, base_source, tune_motion

REPO = Path(__file__).resolve().parents[1]
COLUMNS = ("learned tuned", "learned untuned", "coherence", "warping error", "continuation PSNR")


def with_overrides(params: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """A copy of `params` with `dotted.key=value` overrides applied (values parsed as YAML)."""
    params = copy.deepcopy(params)
    for override in overrides:
        key, sep, text = override.partition("=")
        if not sep:
            raise SystemExit(f"override {override!r}: expected key=value")
        *parents, leaf = key.split(".")
        node = params
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = yaml.safe_load(text)
    return params


def tune_example_motion(name: str, params: dict[str, Any], work: Path) -> Path:
    """Render, ingest, cache and tune motion `name` under `work`; returns the motion artifact's folder."""
    motion = motion_config(params, name)
    render_examples(ExampleSpec.from_params(params, name), work / "raw")
    ingest_motion(work / "raw", work / "clips", IngestSettings.from_params(params, motion))
    build_frame_cache(work / "clips", work / "frames", motion, CaptionSpec.from_params(params, motion))
    tune = TuneSettings.for_motion(params["tune"], motion)
    # Schedule-only settings: no validation videos, one checkpoint at the end (the same weights).
    tune = TuneSettings.from_dict({**tune.to_dict(), "validate_every": 0, "checkpoint_every": tune.steps})
    paths = TunePaths(
        frames=work / "frames",
        output=work / "motion",
        checkpoints=work / "checkpoints",
        logs=work / "logs",
        manifest=work / "clips" / "manifest.csv",
    )
    threads = torch.get_num_threads()
    torch.set_num_threads(tune.threads or threads)
    try:
        base = str(REPO / base_source(params))
        tune_motion(TuneJob(motion, tune, ModelSettings.from_dict(params.get("model")), base, paths))
    finally:
        torch.set_num_threads(threads)
    return paths.output


def sample_and_evaluate(name: str, params: dict[str, Any], work: Path, samples: Path) -> MotionEvaluation:
    """Sample the motion's evaluation prompts (tuned and untuned) into `samples` and evaluate them."""
    motion = motion_config(params, name)
    evaluation = evaluation_entry(params, name)
    settings = GenerateSettings.from_params(params.get("generate"))
    generate_motion_samples(
        motion=motion,
        prompts=parse_eval_prompts(name, evaluation.get("eval_prompts"), settings.seed),
        motion_dir=work / "motion",
        base_source=str(REPO / base_source(params)),
        out_dir=samples,
        settings=settings,
    )
    return evaluate_motion(
        motion,
        load_motion_samples(samples),
        load_frame_cache(work / "frames"),
        MetricsSettings.from_params(params),
        MetricUnavailable("not needed by the ablation"),
        expected_motion=evaluation.get("expected_motion"),
    )


def summary_row(evaluation: MotionEvaluation) -> dict[str, Any]:
    """The ablation table's numbers of one evaluation."""

    def value(group: str, metric: str) -> float | None:
        return evaluation.value(group, metric)

    n = evaluation.metrics["n_videos"]
    return {
        "n_videos": n,
        "learned_tuned": round((value("tuned", "learned_fraction") or 0.0) * n),
        "learned_untuned": round((value("untuned", "learned_fraction") or 0.0) * n),
        "learned_reference": value("reference", "learned_fraction"),
        "coherence": value("tuned", "motion_coherence"),
        "coherence_reference": value("reference", "motion_coherence"),
        "warping_error": value("tuned", "warping_error"),
        "warping_error_reference": value("reference", "warping_error"),
        "continuation_psnr_tuned": value("tuned", "continuation_psnr"),
        "continuation_psnr_untuned": value("untuned", "continuation_psnr"),
    }


def _cell(row: dict[str, Any]) -> str:
    def num(x: float | None, digits: int = 2) -> str:
        return "n/a" if x is None else f"{x:.{digits}f}"

    n = row["n_videos"]
    return (
        f"{row['learned_tuned']}/{n} | {row['learned_untuned']}/{n} | {num(row['coherence'])} "
        f"(ref {num(row['coherence_reference'])}) | {num(row['warping_error'], 3)} "
        f"(ref {num(row['warping_error_reference'], 3)}) | {num(row['continuation_psnr_tuned'], 1)} / "
        f"{num(row['continuation_psnr_untuned'], 1)}"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("motion")
    parser.add_argument("-S", dest="tune_overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("-G", dest="variants", action="append", default=[], metavar="KEY=VALUE[,...]")
    parser.add_argument("--params", default=str(REPO / PARAMS_FILE))
    parser.add_argument("--keep", type=Path, help="keep the work folder here")
    parser.add_argument("--out", type=Path, help="append the rows to this JSON-lines file")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    params = with_overrides(load_params(args.params), args.tune_overrides)
    with tempfile.TemporaryDirectory(prefix="lamp-ablation-") as scratch:
        work = args.keep or Path(scratch)
        work.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        tune_example_motion(args.motion, params, work)
        tuned_s = time.perf_counter() - started
        print(f"| setting | {' | '.join(COLUMNS)} |")
        for index, variant in enumerate(args.variants or [""]):
            sampling = with_overrides(params, [o for o in variant.split(",") if o])
            started = time.perf_counter()
            evaluation = sample_and_evaluate(args.motion, sampling, work, work / f"samples_{index}")
            label = ", ".join([*args.tune_overrides, *filter(None, variant.split(","))]) or "params.yaml"
            row = {"motion": args.motion, "setting": label, **summary_row(evaluation)}
            row |= {"tune_s": round(tuned_s, 1), "sample_s": round(time.perf_counter() - started, 1)}
            print(f"| {args.motion}: {label} | {_cell(row)} |", flush=True)
            if args.out:
                with args.out.open("a", encoding="utf-8") as handle:
                    handle.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
