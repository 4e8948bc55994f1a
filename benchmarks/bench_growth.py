"""How tuning and sampling cost grow with the work: frames, resolution and batch, one axis at a time.

    python -m benchmarks.bench_growth --preset tiny           # CPU: ~6 min on one core
    python -m benchmarks.bench_growth --preset sd14           # SD 1.4 shapes, needs a CUDA GPU

Each point of an axis runs the tuning step of `bench_tune.TuneRun` (median of --steps steps after a
warm-up) and the denoising step of `bench_generate.GenerateRun` (median over one video of --sampling-steps
steps), in the optimised configuration of the device, with the other two quantities at the preset's values
(the batch axis: videos per tuning step, and videos sampled together, as `generate.batch_size` does).
Per axis it fits time ~ x^a by least squares in log-log (a = 1: linear; a > 1: worse than linear) and
prints FLOPs beside time, so a growth faster than the FLOPs' is the machine's (memory, cache) and one as
fast as the FLOPs' is the model's (attention over more tokens). Figures go to
reports/bench/<preset>_growth.json.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from lamp_core.params import PARAMS_FILE
from lamp_core.training import TuneSettings

from .bench_generate import GenerateRun
from .bench_tune import TuneRun
from .configurations import optimised_config
from .harness import DEFAULT_OUTPUT_DIR, resolve_device, write_report
from .measurement import machine_info, matmul_tflops
from .presets import PRESET_NAMES, Preset, get_preset

AXES = {
    "tiny": {"frames": [8, 16, 24], "resolution": [32, 64, 128], "batch": [1, 2, 4]},
    "sd14": {"frames": [8, 16, 24], "resolution": [256, 384, 512], "batch": [1, 2]},
}


def at_point(preset: Preset, axis: str, value: int) -> Preset:
    """`preset` with one quantity changed: frames, resolution (square, pixels) or tuning batch."""
    if axis == "frames":
        return replace(preset, n_frames=value)
    if axis == "resolution":
        return replace(preset, width=value, height=value)
    tune = TuneSettings.from_dict({**preset.tune.to_dict(), "batch_size": value})
    return replace(preset, tune=tune)


def measure_point(
    preset: Preset, device: torch.device, steps: int, sampling_steps: int, videos: int = 1
) -> dict[str, Any]:
    """Median tuning-step and denoising-step seconds at `preset` (`videos` sampled together), with each
    step's model FLOPs."""
    config = optimised_config(device, threads=preset.tune.threads)
    config.apply_threads()
    tune = TuneRun(preset, config, device, count_flops=True, options={"warmup": 1})
    tune.warm_up()
    tune_seconds = statistics.median(tune.run_once()["step"][0] for _ in range(steps))
    sampling = replace(preset, sampling=replace(preset.sampling, num_inference_steps=sampling_steps))
    generate = GenerateRun(sampling, config, device, count_flops=True, options={"videos_per_batch": videos})
    generate.warm_up()
    denoising = statistics.median(generate.run_once()["denoising_step"])
    return {
        "tune_step_s": tune_seconds,
        "tune_gflops": tune.info["model_flops_per_step"] / 1e9,
        "denoising_step_s": denoising,
        "denoising_gflops": generate.info["model_flops_per_denoising_step"] / 1e9,
    }


def growth_exponent(xs: list[float], ys: list[float]) -> float:
    """a of y ~ x^a, least squares over log x, log y."""
    lx, ly = [math.log(x) for x in xs], [math.log(y) for y in ys]
    mx, my = statistics.fmean(lx), statistics.fmean(ly)
    return sum((a - mx) * (b - my) for a, b in zip(lx, ly, strict=True)) / sum((a - mx) ** 2 for a in lx)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_growth", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--preset", choices=PRESET_NAMES, default="tiny")
    parser.add_argument("--device", default="auto", help="auto (CUDA when available), cpu or cuda[:N]")
    parser.add_argument("--params", default=PARAMS_FILE, help="parameters file (tiny preset)")
    parser.add_argument("--steps", type=int, default=5, help="timed tuning steps per point")
    parser.add_argument("--sampling-steps", type=int, default=10, help="denoising steps of the timed video")
    parser.add_argument("--output-dir", type=Path, default=DEFAULT_OUTPUT_DIR)
    parser.add_argument("--tag", default=None, help="report name suffix: <preset>_growth_<tag>.json")
    args = parser.parse_args(argv)
    device = resolve_device(args.device)
    preset = get_preset(args.preset, args.params)
    if preset.needs_cuda and device.type != "cuda":
        print(f"preset {preset.name!r} needs a CUDA GPU; this machine has none", file=sys.stderr)
        return 2
    base_values = {"frames": preset.n_frames, "resolution": preset.width, "batch": preset.tune.batch_size}
    axes: dict[str, list[dict[str, Any]]] = {}
    for axis, values in AXES[preset.name].items():
        points = []
        for value in values:
            videos = value if axis == "batch" else 1  # batch: videos per tuning step and per sampling batch
            point = at_point(preset, axis, value)
            figures = measure_point(point, device, args.steps, args.sampling_steps, videos)
            points.append({axis: value, **figures})
            print(f"{axis} {value}: " + ", ".join(f"{k} {v:.4g}" for k, v in figures.items()), flush=True)
        axes[axis] = points
    fits = {
        axis: {
            key: growth_exponent([p[axis] for p in points], [p[key] for p in points])
            for key in ("tune_step_s", "tune_gflops", "denoising_step_s", "denoising_gflops")
        }
        for axis, points in axes.items()
    }
    print(f"\n{preset.name}: time ~ x^a per axis (others at {base_values}); FLOPs' exponent beside it")
    print("| axis | values | tuning step a | its FLOPs a | denoising step a | its FLOPs a |")
    print("|---|---|---|---|---|---|")
    for axis, fit in fits.items():
        values = "/".join(str(p[axis]) for p in axes[axis])
        print(
            f"| {axis} | {values} | {fit['tune_step_s']:.2f} | {fit['tune_gflops']:.2f} "
            f"| {fit['denoising_step_s']:.2f} | {fit['denoising_gflops']:.2f} |"
        )
    body = {
        "machine": machine_info(device) | {"matmul_fp32_tflops": matmul_tflops(device)},
        "points": axes,
        "exponents": fits,
    }
    path = write_report(args, preset, "growth", "benchmarks.bench_growth", body)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
