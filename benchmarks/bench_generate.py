"""Benchmark of LAMP generation: seconds per video, seconds per denoising step, peak memory.

    python -m benchmarks.bench_generate --preset tiny    # CPU, the embedded default's settings (~2 min)
    python -m benchmarks.bench_generate --preset sd14    # 512x320, 16 frames, 50 steps, guidance 12.5; GPU

One video through the real sampler (`lamp_core.sampling.sample_videos`, which the generate stage runs):
prompt encoded, first frame VAE-encoded, shared noise, DDIM with classifier-free guidance batched
(conditional and unconditional in one UNet call), frame 1 clean, AdaIN after every step, VAE decoding and
histogram matching. The motion weights of an untuned inflation are zero, which costs exactly what tuned
ones cost. A warm-up video of 2 steps (same shapes) is not timed; the figure is the median of --videos
videos. In sampling every weight is frozen, so `bf16` casts the whole model (UNet, VAE, text encoder) to
bfloat16. Plain and optimised are measured by the same command (`harness.py` says how); the ratio is
printed and written with the figures to reports/bench/<preset>_generate.json.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from typing import Any

import numpy as np
import torch

from lamp_core.errors import LampError
from lamp_core.model import InflationConfig, LAMPUNet, SDBase
from lamp_core.sampling import MemoryOptions, build_video_unet, sample_videos, vae_scale_factor

from . import harness
from .configurations import RunConfig, attention_backend
from .measurement import count_flops, summarise_seconds, synchronize
from .presets import Preset, build_base

MODULE = "benchmarks.bench_generate"
DEFAULT_VIDEOS = {"tiny": 3, "sd14": 3}
WARMUP_STEPS = 2
MEMORY_VIDEOS = 1  # videos of a memory-only run (interleaved timing)


def sampling_unet(base: SDBase, config: RunConfig) -> LAMPUNet:
    """The base (cast as `config` says) inflated for sampling, with the configuration's speed options."""
    if config.precision == "bf16":
        base.to(dtype=torch.bfloat16)
    unet = build_video_unet(base, InflationConfig.paper(), seed=0)
    if config.channels_last:
        unet.enable_channels_last()
    if config.compile:
        unet.unet.compile()
    return unet


def count_denoising_flops(unet: LAMPUNet, base: SDBase, preset: Preset, videos: int = 1) -> int:
    """FLOPs of one denoising step's UNet call for `videos` videos sampled together (conditional and
    unconditional batched when guided); DDIM's and AdaIN's elementwise work is not counted."""
    sampling = preset.sampling
    batch = videos * (2 if sampling.uses_guidance else 1)
    factor = vae_scale_factor(base.vae)
    channels = unet.unet.config.in_channels
    shape = (batch, channels, preset.n_frames, preset.height // factor, preset.width // factor)
    text_shape = (batch, base.tokenizer.model_max_length, base.text_encoder.config.hidden_size)

    @torch.no_grad()
    def denoising_step() -> None:
        unet(torch.zeros(shape), torch.zeros(batch, dtype=torch.long), torch.zeros(text_shape))

    return count_flops(denoising_step)


class GenerateRun:
    """One configuration's sampler, set up: base and inflated UNet. Times whole videos and their steps."""

    def __init__(
        self,
        preset: Preset,
        config: RunConfig,
        device: torch.device,
        count_flops: bool,
        options: dict[str, Any],
    ) -> None:
        self.preset, self.config, self.device = preset, config, device
        self.videos = int(options.get("videos_per_batch", 1))  # videos sampled together (the stage's batch)
        self.base = build_base(preset, device)
        self.unet = sampling_unet(self.base, config)
        flops = count_denoising_flops(self.unet, self.base, preset, self.videos) if count_flops else None
        self.memory = MemoryOptions(vae_slicing=config.vae_slicing, vae_tiling=False, cpu_offload=False)
        rng = np.random.default_rng(0)
        self.first_frame = rng.integers(0, 256, (preset.height, preset.width, 3), dtype=np.uint8)
        self.marks: list[float] = []
        self.info: dict[str, Any] = {"video_shape": None, "model_flops_per_denoising_step": flops}

    def _mark(self, step: int, total: int) -> None:
        synchronize(self.device)
        self.marks.append(time.perf_counter())

    def video(self, steps: int) -> tuple[np.ndarray, float, list[float]]:
        """(frames, seconds for the whole video, seconds of each denoising step but the first)."""
        self.marks = []
        start = time.perf_counter()
        with attention_backend(self.config):
            frames = sample_videos(
                self.unet,
                self.base,
                [self.preset.prompt] * self.videos,
                [self.first_frame] * self.videos,
                list(range(self.videos)),
                n_frames=self.preset.n_frames,
                config=replace(self.preset.sampling, num_inference_steps=steps),
                memory=self.memory,
                device=self.device,
                progress=self._mark,
            )[0]
        seconds = time.perf_counter() - start  # the frames are on the CPU: the device has finished
        return frames, seconds, np.diff(self.marks).tolist()

    def warm_up(self) -> None:
        self.info["first_video_s"] = self.video(WARMUP_STEPS)[1]

    def run_once(self) -> dict[str, list[float]]:
        frames, seconds, steps = self.video(self.preset.sampling.num_inference_steps)
        self.info["video_shape"] = list(frames.shape)
        return {"video": [seconds], "denoising_step": steps}


def figures(result: dict[str, Any], model_flops: int | None, matmul: float | None) -> dict[str, Any]:
    """The reported figures of one configuration (times None where it ran out of memory); `model_flops`
    per denoising step, `matmul` the same run's float32 matmul rate in TFLOP/s."""
    samples = result["samples"]
    ran = bool(samples.get("video")) and not result["out_of_memory"]
    out = {
        key: result.get(key)
        for key in ("config", "memory", "out_of_memory", "timing", "setup_s", "first_video_s", "video_shape")
    }
    out["video_time"] = summarise_seconds(samples["video"]) if ran else None
    out["denoising_step_time"] = (
        summarise_seconds(samples["denoising_step"]) if ran and samples.get("denoising_step") else None
    )
    step = out["denoising_step_time"]
    achieved = model_flops / step["median_s"] / 1e12 if step and model_flops else None
    out["model_tflops_per_s"] = achieved
    out["matmul_ratio"] = harness.ratio(achieved, matmul)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=f"python -m {MODULE}", description=__doc__.splitlines()[0])
    harness.add_arguments(parser)
    parser.add_argument("--videos", type=int, default=None, help="timed videos (default 3)")
    args = parser.parse_args(argv)
    if args.worker is not None:
        return harness.run_as_worker(GenerateRun, args)
    return harness.main_guard(lambda: run(args))


def run(args: argparse.Namespace) -> int:
    harness.check_arguments(args)
    device = harness.resolve_device(args.device)
    preset = harness.load_preset(args, device)
    configs = harness.configurations(args, device, preset.generate_threads)
    videos = args.videos or DEFAULT_VIDEOS[preset.name]
    if videos < 1:
        raise LampError("--videos must be at least 1")

    machine, results = harness.measure(MODULE, args, configs, device, videos, MEMORY_VIDEOS, {})
    counted = [
        r["model_flops_per_denoising_step"] for r in results.values() if r["model_flops_per_denoising_step"]
    ]
    model_flops = counted[0] if counted else None
    matmul = machine.get("matmul_fp32_tflops")
    report = {name: figures(result, model_flops, matmul) for name, result in results.items()}

    video_time = harness.pair(report, lambda f: f["video_time"]["median_s"])
    step_time = harness.pair(report, lambda f: f["denoising_step_time"]["median_s"])
    memory = harness.pair(report, lambda f: f["memory"]["peak_memory_mb"])
    ratios = {
        "video_time": harness.ratio(*video_time),
        "denoising_step_time": harness.ratio(*step_time),
        "peak_memory": harness.ratio(*memory),
    }
    sampling = preset.sampling
    timing = next(iter(results.values()))["timing"]
    smoke = " [SMOKE RUN at 64x64, 2 frames: proves the code path, not a figure]" if args.smoke else ""
    harness.print_table(
        f"generate, preset {preset.name}: {preset.width}x{preset.height}, {preset.n_frames} frames, "
        f"{sampling.num_inference_steps} DDIM steps, guidance {sampling.guidance_scale}, median of {videos} "
        f"video(s), {timing} timing, on {harness.where(machine)}{smoke}",
        [
            ("seconds per video, median", *video_time, ratios["video_time"]),
            ("seconds per denoising step, median", *step_time, ratios["denoising_step_time"]),
            (f"peak memory (MiB, {harness.memory_kind(report)})", *memory, ratios["peak_memory"]),
            (
                "model TFLOP/s (denoising steps)",
                *harness.pair(report, lambda f: f["model_tflops_per_s"]),
                None,
            ),
            (harness.MATMUL_ROW, *harness.pair(report, lambda f: f["matmul_ratio"]), None),
        ],
    )
    harness.print_out_of_memory(report)
    print(harness.matmul_line(machine))
    flops_text = f"{model_flops / 1e9:.2f} GFLOPs" if model_flops else "not counted"
    print(f"  model FLOPs per denoising step (one UNet call): {flops_text}")
    if args.smoke:
        return 0
    body = {
        "device": str(device),
        "machine": machine,
        "videos": videos,
        "model_flops_per_denoising_step": model_flops,
        "matmul_fp32_tflops": matmul,
        "configurations": report,
        "ratios_plain_over_optimised": ratios,
    }
    print(f"wrote {harness.write_report(args, preset, 'generate', MODULE, body)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
