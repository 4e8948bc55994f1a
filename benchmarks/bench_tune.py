"""Benchmark of a LAMP tuning step: step time, steps/s, peak memory, FLOPs and model-FLOPs utilisation.

    python -m benchmarks.bench_tune --preset tiny                 # CPU, the embedded default (~1-2 min)
    python -m benchmarks.bench_tune --preset sd14 [--8bit-adam]   # SD 1.4 shapes; needs a CUDA GPU

The step is the real one of `lamp_core.training`: a window batch drawn from a latent cache (VAE latents
and text embeddings computed once, as tuning does), LAMP's loss (`lamp_loss_step`: one timestep per video,
frame 1 clean, MSE over frames 2..f), backward, gradient clipping, AdamW on the method's trainable set.
Warm-up steps are excluded; the figure is the median of --steps steps. The plain and the optimised
configuration (`configurations.py`) run one after the other in fresh processes; the ratio is printed and
written with the figures to reports/bench/<preset>_tune.json.

FLOPs: one step is run under `torch.utils.flop_counter.FlopCounterMode` (matmuls, convolutions,
attention; forward and backward). The plain configuration's count (no gradient checkpointing) is the
model's FLOPs per step; a checkpointed configuration also reports what it executes, recomputation
included. MFU = model FLOPs per step / median step time / the GPU's dense bf16 peak.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from typing import Any

import torch
from diffusers import DDPMScheduler
from torch._subclasses.fake_tensor import FakeTensorMode
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from lamp_core.model import InflationConfig, LAMPUNet
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
from .measurement import PeakMemory, bf16_peak_tflops, machine_info, summarise_seconds, synchronize
from .presets import Preset, build_base, random_clips

MODULE = "benchmarks.bench_tune"
N_CLIPS = 4
DEFAULT_STEPS = {"tiny": 10, "sd14": 20}
DEFAULT_WARMUP = 2


def training_unet(base, config: RunConfig, seed: int) -> LAMPUNet:
    """The base's UNet inflated with the method's trainable set, prepared as `config` says."""
    torch.manual_seed(seed)  # temporal attention's q/k/v start from the global RNG, as in tuning
    unet = LAMPUNet.from_unet2d(base.unet, InflationConfig(), base_identity=base.identity)
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


def count_model_flops(
    unet: LAMPUNet, cache: LatentCache, preset: Preset, scheduler_config: dict[str, Any], config: RunConfig
) -> int:
    """FLOPs of one step's forward and backward (matmuls, convolutions, attention), counted by
    `FlopCounterMode` on fake tensors: shapes only, so it needs no memory and no device time.

    Counted without gradient checkpointing (model FLOPs, not recomputation) and through the math attention
    path, whose matmuls are the FLOPs an SDPA kernel performs. The optimizer's elementwise work is not
    counted (FlopCounterMode counts no elementwise ops).
    """
    settings = preset.tune
    latent_shape = (settings.batch_size, cache.mean[0].shape[2], preset.n_frames, *cache.mean[0].shape[3:])
    text_shape = (settings.batch_size, *cache.text.shape[1:])
    device = unet.device
    scheduler = DDPMScheduler.from_config(scheduler_config)
    params = unet.trainable_parameters()
    with (
        FlopCounterMode(display=False) as counter,
        FakeTensorMode(allow_non_fake_inputs=True),
        sdpa_kernel(SDPBackend.MATH),
        autocast(config, device),
    ):
        latents = torch.zeros(latent_shape, device=device)
        text = torch.zeros(text_shape, device=device)
        timesteps = torch.zeros(settings.batch_size, dtype=torch.long, device=device)
        noise = torch.zeros(latent_shape, device=device)
        noise_pred = unet(noisy_videos(latents, noise, timesteps, scheduler), timesteps, text)
        torch.autograd.grad(lamp_loss(noise_pred, noise), params)  # grads not kept: .grad stays empty
    return counter.get_total_flops()


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


def make_step(
    unet: LAMPUNet,
    optimizer: torch.optim.Optimizer,
    cache: LatentCache,
    preset: Preset,
    config: RunConfig,
    noise_scheduler: DDPMScheduler,
    device: torch.device,
) -> Callable[[int], float]:
    """One tuning step as `lamp_core.training` runs it; `step(i)` returns the loss of step i."""
    settings = preset.tune
    sampler = WindowSampler(
        cache.clip_lengths, preset.n_frames, preset.sample_rate, settings.seed, settings.flip_p
    )
    params = unet.trainable_parameters()

    def step(index: int) -> float:
        generator = torch.Generator().manual_seed(settings.seed * 100_003 + index)
        windows = sampler.batch(index, settings.batch_size)
        latents = cache.videos(windows, [sampler.frame_indices(w) for w in windows], generator)
        text = cache.text_embeddings(windows).to(device)
        with attention_backend(config), autocast(config, device):
            loss = lamp_loss_step(unet, latents.to(device), text, noise_scheduler, generator).loss
        value = loss.item()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, settings.max_grad_norm)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return value

    return step


def worker(payload: dict[str, Any]) -> dict[str, Any]:
    """Measure one configuration (in its own process): set up, count FLOPs, warm up, time the steps."""
    preset = harness.worker_preset(payload)
    config = RunConfig.from_dict(payload["config"])
    config.apply_threads()
    device = torch.device(payload["device"])
    settings = preset.tune

    began = time.perf_counter()
    base = build_base(preset, device)
    cache = build_latent_cache(
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
    unet = training_unet(base, config, settings.seed)
    flops = None
    if payload["count_flops"]:
        flops = count_model_flops(unet, cache, preset, base.scheduler_config, config)
    apply_speed_options(unet, config)
    optimizer = make_optimizer(unet, settings, config)
    step = make_step(
        unet, optimizer, cache, preset, config, DDPMScheduler.from_config(base.scheduler_config), device
    )
    result: dict[str, Any] = {
        "config": config.to_dict(),
        "machine": machine_info(device),
        "setup_s": time.perf_counter() - began,
        "model_flops_per_step": flops,
        "trainable_parameters": sum(p.numel() for p in unet.trainable_parameters()),
        "parameters": sum(p.numel() for p in unet.parameters()),
        "step_seconds": [],
        "out_of_memory": None,
    }

    memory = PeakMemory(device)
    index = 0
    try:
        first = time.perf_counter()
        step(index := index + 1)  # first call: allocations, kernel selection, compilation
        synchronize(device)
        result["first_step_s"] = time.perf_counter() - first
        for _ in range(payload["warmup"]):
            step(index := index + 1)
        memory.reset()
        losses = []
        for _ in range(payload["steps"]):
            start = time.perf_counter()
            losses.append(step(index := index + 1))  # the loss's .item() waits for the forward pass
            synchronize(device)
            result["step_seconds"].append(time.perf_counter() - start)
        result["losses_finite"] = bool(torch.isfinite(torch.tensor(losses)).all())
    except torch.OutOfMemoryError as exc:
        result["out_of_memory"] = str(exc).splitlines()[0]
    result["memory"] = memory.read()
    return result


def merge(results: list[dict[str, Any]]) -> dict[str, Any]:
    """One configuration's rounds together: all step times, the highest memory peak, the FLOP count."""
    merged = dict(results[0])
    merged["step_seconds"] = [s for r in results for s in r["step_seconds"]]
    merged["memory"] = max((r["memory"] for r in results), key=lambda m: m["peak_memory_mb"])
    merged["out_of_memory"] = next((r["out_of_memory"] for r in results if r["out_of_memory"]), None)
    merged["model_flops_per_step"] = next(
        (r["model_flops_per_step"] for r in results if r["model_flops_per_step"]), None
    )
    merged["rounds"] = len(results)
    return merged


def figures(result: dict[str, Any], model_flops: int | None, peak_tflops: float | None) -> dict[str, Any]:
    """The reported figures of one configuration (None where it ran out of memory)."""
    out = {
        "config": result["config"],
        "memory": result["memory"],
        "out_of_memory": result["out_of_memory"],
        "first_step_s": result.get("first_step_s"),
        "setup_s": result["setup_s"],
        "losses_finite": result.get("losses_finite"),
        "rounds": result["rounds"],
        "step_time": None,
        "steps_per_s": None,
        "model_tflops_per_s": None,
        "mfu": None,
    }
    if result["step_seconds"] and not result["out_of_memory"]:
        step = summarise_seconds(result["step_seconds"])
        achieved = model_flops / step["median_s"] / 1e12 if model_flops else None
        out |= {
            "step_time": step,
            "steps_per_s": 1.0 / step["median_s"],
            "model_tflops_per_s": achieved,
            "mfu": achieved / peak_tflops if achieved and peak_tflops else None,
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
        return harness.run_as_worker(worker, args)
    return harness.main_guard(lambda: run(args))


def run(args: argparse.Namespace) -> int:
    harness.check_arguments(args)
    device = harness.resolve_device(args.device)
    preset = harness.load_preset(args, device)
    configs = harness.configurations(args, device, preset.tune.threads)
    steps = args.steps or DEFAULT_STEPS[preset.name]
    if steps < 1 or args.warmup < 0:
        raise harness.BenchmarkError("--steps must be at least 1 and --warmup at least 0")

    def payload(config: RunConfig, round_index: int) -> dict[str, Any]:
        return {
            **harness.worker_payload(args, config, device),
            "steps": steps,
            "warmup": args.warmup,
            # Model FLOPs do not depend on the configuration: count them once.
            "count_flops": round_index == 0 and config is configs[0],
        }

    results = harness.run_rounds(MODULE, configs, args.rounds, payload, merge)
    first = next(iter(results.values()))
    machine = first["machine"]
    peak = bf16_peak_tflops(machine.get("gpu", "")) if device.type == "cuda" else None
    counted = [r["model_flops_per_step"] for r in results.values() if r["model_flops_per_step"]]
    model_flops = counted[0] if counted else None
    report = {name: figures(result, model_flops, peak) for name, result in results.items()}

    step_time = harness.pair(report, lambda f: f["step_time"] and f["step_time"]["median_s"])
    memory = harness.pair(report, lambda f: f["memory"]["peak_memory_mb"])
    ratios = {"step_time": harness.ratio(*step_time), "peak_memory": harness.ratio(*memory)}
    smoke = " [SMOKE RUN at 64x64, 2 frames: proves the code path, not a figure]" if args.smoke else ""
    harness.print_table(
        f"tune step, preset {preset.name}: {preset.width}x{preset.height}, {preset.n_frames} frames, batch "
        f"{preset.tune.batch_size}, median of {steps} steps x {args.rounds} round(s), on "
        f"{harness.where(machine)}{smoke}",
        [
            ("step time, median (s)", *step_time, ratios["step_time"]),
            ("steps/s", *harness.pair(report, lambda f: f["steps_per_s"]), None),
            (f"peak memory (MiB, {harness.memory_kind(report)})", *memory, ratios["peak_memory"]),
            ("model TFLOP/s", *harness.pair(report, lambda f: f["model_tflops_per_s"]), None),
            ("MFU (dense bf16 peak)", *harness.pair(report, lambda f: f["mfu"]), None),
        ],
    )
    harness.print_out_of_memory(report)
    flops_text = f"{model_flops / 1e9:.2f} GFLOPs" if model_flops else "not counted"
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
        "model_flops_per_step": model_flops,
        "gpu_bf16_peak_tflops": peak,
        "trainable_parameters": first["trainable_parameters"],
        "parameters": first["parameters"],
        "configurations": report,
        "ratios_plain_over_optimised": ratios,
    }
    print(f"wrote {harness.write_report(args, preset, 'tune', MODULE, body)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
