"""Benchmark of a LAMP tuning step: step time, steps/s, peak memory, FLOPs and model-FLOPs utilisation.

    python -m benchmarks.bench_tune --preset tiny                 # CPU, the embedded default (~2 min)
    python -m benchmarks.bench_tune --preset sd14 [--8bit-adam]   # SD 1.4 shapes; needs a CUDA GPU

The step is the real one of `lamp_core.training`: a window batch drawn from a latent cache (VAE latents
and text embeddings computed once, as tuning does), LAMP's loss (`lamp_loss_step`: one timestep per video,
frame 1 clean, MSE over frames 2..f), backward, gradient clipping, AdamW on the method's trainable set.
The first step and --warmup more are not timed; the figure is the median of --steps steps. Plain and
optimised (`configurations.py`) are measured by the same command (`harness.py` says how) and their ratio
is printed and written with the figures to reports/bench/<preset>_tune.json.

FLOPs: one step's forward and backward are counted by `torch.utils.flop_counter.FlopCounterMode` on fake
tensors (shapes only: no memory, no device time), without gradient checkpointing: the model's FLOPs, not
the recomputation. MFU = model FLOPs per step / median step time / the GPU's dense bf16 peak.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

import torch
from diffusers import DDPMScheduler

from lamp_core.errors import LampError
from lamp_core.model import InflationConfig, LAMPUNet, SDBase
from lamp_core.training import (
    LatentCache,
    TuneSettings,
    WindowSampler,
    build_latent_cache,
    lamp_loss,
    lamp_loss_step,
    noisy_videos,
)

from . import harness
from .configurations import RunConfig, attention_backend, autocast
from .measurement import bf16_peak_tflops, count_flops, summarise_seconds, synchronize
from .presets import Preset, build_base, random_clips

MODULE = "benchmarks.bench_tune"
N_CLIPS = 4
DEFAULT_STEPS = {"tiny": 10, "sd14": 20}
DEFAULT_WARMUP = 2
MEMORY_STEPS = 3  # steps of a memory-only run (interleaved timing)


def training_unet(base: SDBase, config: RunConfig, seed: int) -> LAMPUNet:
    """The base's UNet inflated with the method's trainable set, its frozen weights in bf16 for `bf16`."""
    torch.manual_seed(seed)  # temporal attention's q/k/v start from the global RNG, as in tuning
    unet = LAMPUNet.from_unet2d(base.unet, InflationConfig.paper(), base_identity=base.identity)
    if config.precision == "bf16":
        # Frozen weights in bf16 halve their memory; trainable ones stay float32 for AdamW's updates.
        with torch.no_grad():
            for param in unet.parameters():
                if not param.requires_grad:
                    param.data = param.data.to(torch.bfloat16)
    return unet.train()


def apply_speed_options(unet: LAMPUNet, config: RunConfig) -> None:
    """Gradient checkpointing, channels-last and torch.compile, as `config` asks (before the optimizer)."""
    if config.gradient_checkpointing:
        unet.enable_gradient_checkpointing()
    if config.channels_last:
        unet.enable_channels_last()
    if config.compile:
        unet.unet.compile()


def make_optimizer(unet: LAMPUNet, settings: TuneSettings, config: RunConfig) -> torch.optim.Optimizer:
    """AdamW with the run's hyper-parameters: torch's (fused when asked) or bitsandbytes' 8-bit one."""
    hyper = dict(
        lr=settings.learning_rate,
        betas=(settings.adam_beta1, settings.adam_beta2),
        weight_decay=settings.adam_weight_decay,
        eps=settings.adam_epsilon,
    )
    if config.adam_8bit:
        import bitsandbytes

        return bitsandbytes.optim.AdamW8bit(unet.trainable_parameters(), **hyper)
    return torch.optim.AdamW(unet.trainable_parameters(), fused=config.fused_adamw or None, **hyper)


def count_model_flops(
    unet: LAMPUNet, cache: LatentCache, preset: Preset, scheduler: DDPMScheduler, config: RunConfig
) -> int:
    """FLOPs of one step's forward and backward (matmuls, convolutions, attention), counted on fake tensors.

    Run before gradient checkpointing is enabled (model FLOPs, not recomputation) and through the math
    attention path, whose matmuls are the FLOPs an SDPA kernel performs. The optimizer's elementwise work
    is not counted (FlopCounterMode counts no elementwise ops).
    """
    batch = preset.tune.batch_size
    channels, height, width = cache.mean[0].shape[2:]
    latent_shape = (batch, channels, preset.n_frames, height, width)
    device = unet.device

    def step() -> None:
        with autocast(config, device):
            latents = torch.zeros(latent_shape, device=device)
            noise = torch.zeros(latent_shape, device=device)
            text = torch.zeros((batch, *cache.text.shape[1:]), device=device)
            timesteps = torch.zeros(batch, dtype=torch.long, device=device)
            noise_pred = unet(noisy_videos(latents, noise, timesteps, scheduler), timesteps, text)
            torch.autograd.grad(
                lamp_loss(noise_pred, noise), unet.trainable_parameters()
            )  # .grad stays empty

    return count_flops(step)


class TuneRun:
    """One configuration's tuning, set up: base, latent cache, inflated UNet, AdamW. Times single steps."""

    def __init__(
        self,
        preset: Preset,
        config: RunConfig,
        device: torch.device,
        count_flops: bool,
        options: dict[str, Any],
    ) -> None:
        self.preset, self.config, self.device = preset, config, device
        self.warmup_steps = int(options["warmup"])
        settings = preset.tune
        base = build_base(preset, device)
        self.cache = build_latent_cache(
            random_clips(preset, N_CLIPS),
            [preset.prompt] * N_CLIPS,
            base.vae,
            base.tokenizer,
            base.text_encoder,
            fingerprint="benchmark",
            device=device,
        )
        if config.offload_encoders:  # tuning needs neither once latents and embeddings are cached
            base.vae.to("cpu")
            base.text_encoder.to("cpu")
            if device.type == "cuda":
                torch.cuda.empty_cache()
        self.scheduler = DDPMScheduler.from_config(base.scheduler_config)
        self.unet = training_unet(base, config, settings.seed)
        flops = (
            count_model_flops(self.unet, self.cache, preset, self.scheduler, config) if count_flops else None
        )
        apply_speed_options(self.unet, config)
        self.params = self.unet.trainable_parameters()
        self.optimizer = make_optimizer(self.unet, settings, config)
        self.sampler = WindowSampler(
            self.cache.clip_lengths, preset.n_frames, preset.sample_rate, settings.seed, settings.flip_p
        )
        self.index = 0
        self.info: dict[str, Any] = {
            "model_flops_per_step": flops,
            "trainable_parameters": sum(p.numel() for p in self.params),
            "parameters": sum(p.numel() for p in self.unet.parameters()),
            "losses_finite": True,
        }

    def step(self) -> float:
        """One tuning step as `lamp_core.training` runs it; returns the loss."""
        settings = self.preset.tune
        self.index += 1
        generator = torch.Generator().manual_seed(settings.seed * 100_003 + self.index)
        windows = self.sampler.batch(self.index, settings.batch_size)
        latents = self.cache.videos(windows, [self.sampler.frame_indices(w) for w in windows], generator)
        text = self.cache.text_embeddings(windows).to(self.device)
        with attention_backend(self.config), autocast(self.config, self.device):
            loss = lamp_loss_step(self.unet, latents.to(self.device), text, self.scheduler, generator).loss
        value = loss.item()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.params, settings.max_grad_norm)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return value

    def warm_up(self) -> None:
        start = time.perf_counter()
        self.step()  # first call: allocations, kernel selection, compilation, AdamW's state
        synchronize(self.device)
        self.info["first_step_s"] = time.perf_counter() - start
        for _ in range(self.warmup_steps):
            self.step()

    def run_once(self) -> dict[str, list[float]]:
        start = time.perf_counter()
        loss = self.step()  # the loss's .item() waits for the forward pass; synchronize for the rest
        synchronize(self.device)
        seconds = time.perf_counter() - start
        self.info["losses_finite"] &= bool(torch.isfinite(torch.tensor(loss)))
        return {"step": [seconds]}


def figures(
    result: dict[str, Any], model_flops: int | None, peak_tflops: float | None, matmul: float | None
) -> dict[str, Any]:
    """The reported figures of one configuration (times None where it ran out of memory); `matmul` is the
    same run's float32 matmul rate in TFLOP/s."""
    steps = result["samples"].get("step", [])
    out = {
        key: result.get(key)
        for key in ("config", "memory", "out_of_memory", "timing", "setup_s", "first_step_s", "losses_finite")
    }
    out |= {
        "step_time": None,
        "steps_per_s": None,
        "model_tflops_per_s": None,
        "mfu": None,
        "matmul_ratio": None,
    }
    if steps and not result["out_of_memory"]:
        step = summarise_seconds(steps)
        achieved = model_flops / step["median_s"] / 1e12 if model_flops else None
        out |= {
            "step_time": step,
            "steps_per_s": 1.0 / step["median_s"],
            "model_tflops_per_s": achieved,
            "mfu": achieved / peak_tflops if achieved and peak_tflops else None,
            "matmul_ratio": harness.ratio(achieved, matmul),
        }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=f"python -m {MODULE}", description=__doc__.splitlines()[0])
    harness.add_arguments(parser)
    parser.add_argument("--steps", type=int, default=None, help="timed steps (default: tiny 10, sd14 20)")
    parser.add_argument("--warmup", type=int, default=DEFAULT_WARMUP, help="untimed steps after the first")
    parser.add_argument("--8bit-adam", dest="adam_8bit", action="store_true", help="optimised: AdamW8bit")
    args = parser.parse_args(argv)
    if args.worker is not None:
        return harness.run_as_worker(TuneRun, args)
    return harness.main_guard(lambda: run(args))


def run(args: argparse.Namespace) -> int:
    harness.check_arguments(args)
    device = harness.resolve_device(args.device)
    preset = harness.load_preset(args, device)
    configs = harness.configurations(args, device, preset.tune.threads)
    steps = args.steps or DEFAULT_STEPS[preset.name]
    if steps < 1 or args.warmup < 0:
        raise LampError("--steps must be at least 1 and --warmup at least 0")

    options = {"warmup": args.warmup}
    machine, results = harness.measure(MODULE, args, configs, device, steps, MEMORY_STEPS, options)
    peak = bf16_peak_tflops(machine.get("gpu", "")) if device.type == "cuda" else None
    counted = [r["model_flops_per_step"] for r in results.values() if r["model_flops_per_step"]]
    model_flops = counted[0] if counted else None
    matmul = machine.get("matmul_fp32_tflops")
    report = {name: figures(result, model_flops, peak, matmul) for name, result in results.items()}
    first = next(iter(results.values()))

    step_time = harness.pair(report, lambda f: f["step_time"]["median_s"])
    memory = harness.pair(report, lambda f: f["memory"]["peak_memory_mb"])
    ratios = {"step_time": harness.ratio(*step_time), "peak_memory": harness.ratio(*memory)}
    smoke = " [SMOKE RUN at 64x64, 2 frames: proves the code path, not a figure]" if args.smoke else ""
    harness.print_table(
        f"tune step, preset {preset.name}: {preset.width}x{preset.height}, {preset.n_frames} frames, batch "
        f"{preset.tune.batch_size}, median of {steps} steps, {first['timing']} timing, on "
        f"{harness.where(machine)}{smoke}",
        [
            ("step time, median (s)", *step_time, ratios["step_time"]),
            ("steps/s", *harness.pair(report, lambda f: f["steps_per_s"]), None),
            (f"peak memory (MiB, {harness.memory_kind(report)})", *memory, ratios["peak_memory"]),
            ("model TFLOP/s", *harness.pair(report, lambda f: f["model_tflops_per_s"]), None),
            ("MFU (dense bf16 peak)", *harness.pair(report, lambda f: f["mfu"]), None),
            (harness.MATMUL_ROW, *harness.pair(report, lambda f: f["matmul_ratio"]), None),
        ],
    )
    harness.print_out_of_memory(report)
    flops_text = f"{model_flops / 1e9:.2f} GFLOPs" if model_flops else "not counted"
    print(harness.matmul_line(machine))
    print(
        f"  model FLOPs per step: {flops_text}; trainable {first['trainable_parameters'] / 1e6:.2f}M of "
        f"{first['parameters'] / 1e6:.2f}M parameters"
    )
    if device.type == "cuda" and peak is None:
        print(f"  no MFU: {machine.get('gpu')} is not in measurement.BF16_PEAK_TFLOPS")
    if args.smoke:
        return 0
    body = {
        "device": str(device),
        "machine": machine,
        "steps": steps,
        "warmup_steps": 1 + args.warmup,
        "model_flops_per_step": model_flops,
        "gpu_bf16_peak_tflops": peak,
        "matmul_fp32_tflops": matmul,
        "trainable_parameters": first["trainable_parameters"],
        "parameters": first["parameters"],
        "configurations": report,
        "ratios_plain_over_optimised": ratios,
    }
    print(f"wrote {harness.write_report(args, preset, 'tune', MODULE, body)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
