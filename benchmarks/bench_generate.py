"""Benchmark of LAMP generation: seconds per video, seconds per denoising step, peak memory.

    python -m benchmarks.bench_generate --preset tiny    # CPU, the embedded default's settings
    python -m benchmarks.bench_generate --preset sd14    # 512x320, 16 frames, 50 steps, guidance 12.5; GPU

One video through the real sampler (`lamp_core.sampling.sample_video`): first frame VAE-encoded, shared
noise, DDIM with classifier-free guidance batched (conditional and unconditional in one UNet call), frame
1 clean, AdaIN after every step, VAE decoding and histogram matching. The motion weights of an untuned
inflation are zero, which costs exactly what tuned ones cost. A warm-up video of 2 steps (same shapes) is
excluded; the figure is the median of --videos videos. In sampling every weight is frozen, so `bf16`
casts the whole model (UNet, VAE, text encoder) to bfloat16.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from typing import Any

import numpy as np
import torch

from lamp_core.model import InflationConfig, LAMPUNet, SDBase
from lamp_core.sampling import MemoryOptions, SamplingConfig, build_video_unet, sample_video

from . import harness
from .configurations import RunConfig, attention_backend
from .measurement import PeakMemory, machine_info, summarise_seconds, synchronize
from .presets import Preset, build_base

MODULE = "benchmarks.bench_generate"
DEFAULT_VIDEOS = {"tiny": 3, "sd14": 3}
WARMUP_STEPS = 2


def sampling_unet(base: SDBase, config: RunConfig) -> LAMPUNet:
    """The base (cast as `config` says) inflated for sampling, with the configuration's speed options."""
    if config.precision == "bf16":
        base.to(dtype=torch.bfloat16)
    unet = build_video_unet(base, InflationConfig(), seed=0)
    if config.channels_last:
        unet.enable_channels_last()
    if config.compile:
        unet.unet.compile()
    return unet


class VideoTimer:
    """Generates the preset's video and times it, whole and per denoising step."""

    def __init__(self, unet: LAMPUNet, base: SDBase, preset: Preset, config: RunConfig, device: torch.device):
        self.unet, self.base, self.preset, self.config, self.device = unet, base, preset, config, device
        self.memory = MemoryOptions(vae_slicing=config.vae_slicing)
        rng = np.random.default_rng(0)
        self.first_frame = rng.integers(0, 256, (preset.height, preset.width, 3), dtype=np.uint8)
        self.step_marks: list[float] = []

    def _mark(self, step: int, total: int) -> None:
        synchronize(self.device)
        self.step_marks.append(time.perf_counter())

    def video(self, sampling: SamplingConfig) -> tuple[np.ndarray, float, list[float]]:
        """(frames, seconds for the video, seconds of each denoising step after the first)."""
        self.step_marks = []
        start = time.perf_counter()
        with attention_backend(self.config):
            frames = sample_video(
                self.unet,
                self.base,
                self.preset.prompt,
                self.first_frame,
                seed=0,
                n_frames=self.preset.n_frames,
                config=sampling,
                memory=self.memory,
                device=self.device,
                progress=self._mark,
            )
        seconds = time.perf_counter() - start  # the frames are on the CPU: the device has finished
        return frames, seconds, list(np.diff(self.step_marks))


def worker(payload: dict[str, Any]) -> dict[str, Any]:
    """Measure one configuration (in its own process): build, warm up, time `videos` videos."""
    preset = harness.worker_preset(payload)
    config = RunConfig.from_dict(payload["config"])
    config.apply_threads()
    device = torch.device(payload["device"])

    began = time.perf_counter()
    base = build_base(preset, device)
    unet = sampling_unet(base, config)
    timer = VideoTimer(unet, base, preset, config, device)
    result: dict[str, Any] = {
        "config": config.to_dict(),
        "machine": machine_info(device),
        "setup_s": time.perf_counter() - began,
        "video_seconds": [],
        "step_seconds": [],
        "out_of_memory": None,
    }
    memory = PeakMemory(device)
    try:
        _, result["first_video_s"], _ = timer.video(
            replace(preset.sampling, num_inference_steps=WARMUP_STEPS)
        )
        memory.reset()
        for _ in range(payload["videos"]):
            frames, seconds, steps = timer.video(preset.sampling)
            result["video_seconds"].append(seconds)
            result["step_seconds"] += steps
        result["video_shape"] = list(frames.shape)
    except torch.OutOfMemoryError as exc:
        result["out_of_memory"] = str(exc).splitlines()[0]
    result["memory"] = memory.read()
    return result


def merge(results: list[dict[str, Any]]) -> dict[str, Any]:
    """One configuration's rounds together: all video and step times, the highest memory peak."""
    merged = dict(results[0])
    merged["video_seconds"] = [s for r in results for s in r["video_seconds"]]
    merged["step_seconds"] = [s for r in results for s in r["step_seconds"]]
    merged["memory"] = max((r["memory"] for r in results), key=lambda m: m["peak_memory_mb"])
    merged["out_of_memory"] = next((r["out_of_memory"] for r in results if r["out_of_memory"]), None)
    merged["rounds"] = len(results)
    return merged


def figures(result: dict[str, Any]) -> dict[str, Any]:
    """The reported figures of one configuration (None where it ran out of memory)."""
    ran = bool(result["video_seconds"]) and not result["out_of_memory"]
    return {
        "config": result["config"],
        "video_time": summarise_seconds(result["video_seconds"]) if ran else None,
        "denoising_step_time": summarise_seconds(result["step_seconds"])
        if ran and result["step_seconds"]
        else None,
        "memory": result["memory"],
        "out_of_memory": result["out_of_memory"],
        "first_video_s": result.get("first_video_s"),
        "setup_s": result["setup_s"],
        "video_shape": result.get("video_shape"),
        "rounds": result["rounds"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=f"python -m {MODULE}", description=__doc__.splitlines()[0])
    harness.add_arguments(parser)
    parser.add_argument("--videos", type=int, default=None, help="timed videos (default 3)")
    args = parser.parse_args(argv)
    if args.worker is not None:
        return harness.run_as_worker(worker, args)
    return harness.main_guard(lambda: run(args))


def run(args: argparse.Namespace) -> int:
    harness.check_arguments(args)
    device = harness.resolve_device(args.device)
    preset = harness.load_preset(args, device)
    configs = harness.configurations(args, device, preset.generate_threads)
    videos = args.videos or DEFAULT_VIDEOS[preset.name]
    if videos < 1:
        raise harness.BenchmarkError("--videos must be at least 1")

    def payload(config: RunConfig, round_index: int) -> dict[str, Any]:
        return {**harness.worker_payload(args, config, device), "videos": videos}

    results = harness.run_rounds(MODULE, configs, args.rounds, payload, merge)
    machine = next(iter(results.values()))["machine"]
    report = {name: figures(result) for name, result in results.items()}

    video_time = harness.pair(report, lambda f: f["video_time"] and f["video_time"]["median_s"])
    step_time = harness.pair(
        report, lambda f: f["denoising_step_time"] and f["denoising_step_time"]["median_s"]
    )
    memory = harness.pair(report, lambda f: f["memory"]["peak_memory_mb"])
    ratios = {
        "video_time": harness.ratio(*video_time),
        "denoising_step_time": harness.ratio(*step_time),
        "peak_memory": harness.ratio(*memory),
    }
    sampling = preset.sampling
    smoke = " [SMOKE RUN at 64x64, 2 frames: proves the code path, not a figure]" if args.smoke else ""
    harness.print_table(
        f"generate, preset {preset.name}: {preset.width}x{preset.height}, {preset.n_frames} frames, "
        f"{sampling.num_inference_steps} DDIM steps, guidance {sampling.guidance_scale}, median of {videos} "
        f"video(s) x {args.rounds} round(s), on {harness.where(machine)}{smoke}",
        [
            ("seconds per video, median", *video_time, ratios["video_time"]),
            ("seconds per denoising step", *step_time, ratios["denoising_step_time"]),
            (f"peak memory (MiB, {harness.memory_kind(report)})", *memory, ratios["peak_memory"]),
        ],
    )
    harness.print_out_of_memory(report)
    if args.smoke:
        return 0
    body = {
        "device": str(device),
        "machine": machine,
        "configurations": report,
        "ratios_plain_over_optimised": ratios,
    }
    print(f"wrote {harness.write_report(args, preset, 'generate', MODULE, body)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
