"""Pre-training the tiny base: the VAE on rendered images, then the UNet and text encoder as a
text-to-image diffusion model on the VAE's latents and the renderer's captions.

Deterministic from `PretrainConfig.seed` on CPU. Knows nothing of DVC: losses go to a `log` callback.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import torch
from diffusers import AutoencoderKL

from lamp_core.errors import LampError
from lamp_core.synthetic import sample_image
from lamp_core.tiny_base.components import build_tiny_sd_components

LogFn = Callable[[str, int, dict[str, float]], None]


@dataclass(frozen=True)
class PretrainConfig:
    """Sizes and schedule of the tiny base's pre-training (the `base:` section of params.yaml)."""

    seed: int = 0
    image_size: int = 64
    vae_channels: tuple[int, ...] = (16, 32, 64)
    unet_channels: tuple[int, ...] = (32, 64, 64)
    text_width: int = 64
    text_layers: int = 2
    vae_steps: int = 600
    vae_batch: int = 16
    vae_lr: float = 2e-3
    kl_weight: float = 1e-6
    foreground_weight: float = 8.0  # extra reconstruction weight of object pixels (see `foreground_weights`)
    unet_steps: int = 800
    unet_batch: int = 16
    unet_lr: float = 1e-3
    text_lr: float | None = None  # the text encoder's learning rate (None: unet_lr)
    snr_gamma: float | None = 5.0  # Min-SNR loss weighting (Hang et al. 2023); None: plain MSE
    caption_dropout: float = 0.1  # share of empty captions, so classifier-free guidance works
    latent_pool: int = 2048  # rendered images encoded once for the UNet's training
    log_every: int = 25
    # CPU threads for torch while pre-training (None: torch's default). Results are reproducible for a
    # given thread count; on a busy machine one thread can be several times faster than two.
    threads: int | None = None

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> PretrainConfig:
        """Build from a params.yaml-style mapping; unknown keys raise LampError naming them."""
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise LampError(
                f"unknown pre-training settings: {', '.join(unknown)} (known: {', '.join(known)})"
            )
        converted = {k: tuple(int(c) for c in v) if k.endswith("_channels") else v for k, v in values.items()}
        return cls(**converted)


def render_batch(rng: np.random.Generator, n: int, size: int) -> tuple[torch.Tensor, list[str]]:
    """`n` random captioned stills as a float tensor `(n, 3, size, size)` in [-1, 1], and their captions."""
    images, captions = zip(*(sample_image(rng, size, size) for _ in range(n)), strict=True)
    pixels = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float()
    return pixels / 127.5 - 1.0, list(captions)


def _warmup_cosine(
    optimizer: torch.optim.Optimizer, steps: int, warmup: int = 20
) -> torch.optim.lr_scheduler.LRScheduler:
    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(steps - warmup, 1)
        return 0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * progress))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def psnr(reconstruction: torch.Tensor, target: torch.Tensor) -> float:
    """Peak signal-to-noise ratio in dB of images in [-1, 1]."""
    mse = ((reconstruction.clamp(-1, 1) - target) / 2.0).pow(2).mean().item()
    return float(10.0 * math.log10(1.0 / max(mse, 1e-12)))


def foreground_weights(pixels: torch.Tensor, extra: float, threshold: float = 0.2) -> torch.Tensor:
    """Per-pixel loss weights `(N, 1, H, W)`: 1 on the background, `1 + extra` on the object.

    The object is every pixel far from its image's median border colour. Objects cover a few percent of
    an image, so an unweighted loss learns the background first and the objects' colours and shapes
    only slowly.
    """
    border = torch.cat([pixels[:, :, 0], pixels[:, :, -1], pixels[:, :, :, 0], pixels[:, :, :, -1]], dim=2)
    background = border.median(dim=2).values[:, :, None, None]
    foreground = (pixels - background).abs().amax(dim=1, keepdim=True) > threshold
    return 1.0 + extra * foreground.float()


def train_vae(
    vae: AutoencoderKL, config: PretrainConfig, rng: np.random.Generator, log: LogFn
) -> dict[str, float]:
    """Train the VAE on rendered images (object-weighted L1 + MSE, plus a small KL); return its figures."""
    generator = torch.Generator().manual_seed(config.seed)
    if vae.quant_conv is not None:
        # Start from a nearly deterministic posterior (std ~0.05): at std ~1, the sampling noise drowns
        # the latents and the decoder learns far more slowly. The KL term may raise it again.
        with torch.no_grad():
            vae.quant_conv.bias[vae.config.latent_channels :].fill_(-6.0)
    validation, _ = render_batch(np.random.default_rng(config.seed + 1), 64, config.image_size)
    optimizer = torch.optim.AdamW(vae.parameters(), lr=config.vae_lr, weight_decay=0.0)
    schedule = _warmup_cosine(optimizer, config.vae_steps)
    vae.train()
    for step in range(1, config.vae_steps + 1):
        pixels, _ = render_batch(rng, config.vae_batch, config.image_size)
        posterior = vae.encode(pixels).latent_dist
        reconstruction = vae.decode(posterior.sample(generator)).sample
        kl = posterior.kl().mean() / posterior.mean[0].numel()
        weights = foreground_weights(pixels, config.foreground_weight)
        error = reconstruction - pixels
        rec_loss = ((error.abs() + error.pow(2)) * weights).mean() / weights.mean()
        loss = rec_loss + config.kl_weight * kl
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(vae.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        if step % config.log_every == 0 or step == config.vae_steps:
            log("vae", step, {"loss": loss.item(), "reconstruction": rec_loss.item(), "kl": kl.item()})
    vae.eval()
    with torch.no_grad():
        reconstruction = vae.decode(vae.encode(validation).latent_dist.mode()).sample
    return {"vae_psnr_db": psnr(reconstruction, validation), "vae_final_loss": float(loss.item())}


@torch.no_grad()
def encode_pool(
    vae: AutoencoderKL, rng: np.random.Generator, n: int, size: int, chunk: int = 64
) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """Render and encode `n` captioned images: posterior means and stds `(n, C, h, w)`, and captions."""
    means, stds, captions = [], [], []
    for start in range(0, n, chunk):
        pixels, batch_captions = render_batch(rng, min(chunk, n - start), size)
        posterior = vae.encode(pixels).latent_dist
        means.append(posterior.mean)
        stds.append(posterior.std)
        captions += batch_captions
    return torch.cat(means), torch.cat(stds), captions


def min_snr_weights(alphas_cumprod: torch.Tensor, gamma: float | None) -> torch.Tensor:
    """Per-timestep weights of the epsilon loss: min(SNR, gamma) / SNR (all ones if gamma is None).

    They weigh down the nearly noise-free timesteps, which are easy and say little about content, so
    the model learns layout and the captions' colours and shapes in fewer steps.
    """
    snr = alphas_cumprod / (1.0 - alphas_cumprod)
    if gamma is None:
        return torch.ones_like(snr)
    return torch.clamp(snr, max=gamma) / snr


def train_text_to_image(
    components: dict[str, Any], config: PretrainConfig, rng: np.random.Generator, log: LogFn
) -> dict[str, float]:
    """Train UNet and text encoder jointly on epsilon prediction over scaled VAE latents.

    Sets the VAE's `scaling_factor` to 1 / std of its latents first (SD 1.x's 0.18215 came the same way).
    """
    vae, unet, text_encoder = components["vae"], components["unet"], components["text_encoder"]
    tokenizer, scheduler = components["tokenizer"], components["scheduler"]
    means, stds, captions = encode_pool(vae, rng, config.latent_pool, config.image_size)
    scaling_factor = float(1.0 / means.std())
    vae.register_to_config(scaling_factor=scaling_factor)

    vocabulary = [*sorted(set(captions)), ""]
    token_ids = tokenizer(
        vocabulary,
        padding="max_length",
        max_length=tokenizer.model_max_length,
        truncation=True,
        return_tensors="pt",
    ).input_ids
    caption_index = torch.tensor([vocabulary.index(c) for c in captions])
    empty = len(vocabulary) - 1

    generator = torch.Generator().manual_seed(config.seed + 2)
    parameters = [*unet.parameters(), *text_encoder.parameters()]
    text_lr = config.unet_lr if config.text_lr is None else config.text_lr
    groups = [
        {"params": list(unet.parameters()), "lr": config.unet_lr},
        {"params": list(text_encoder.parameters()), "lr": text_lr},
    ]
    optimizer = torch.optim.AdamW(groups, weight_decay=1e-2)
    schedule = _warmup_cosine(optimizer, config.unet_steps)
    alphas = scheduler.alphas_cumprod
    loss_weights = min_snr_weights(alphas, config.snr_gamma)
    recent: list[float] = []
    unet.train()
    text_encoder.train()
    for step in range(1, config.unet_steps + 1):
        pick = torch.randint(len(captions), (config.unet_batch,), generator=generator)
        latents = (
            means[pick] + stds[pick] * torch.randn(means[pick].shape, generator=generator)
        ) * scaling_factor
        noise = torch.randn(latents.shape, generator=generator)
        timesteps = torch.randint(len(alphas), (config.unet_batch,), generator=generator)
        noisy = scheduler.add_noise(latents, noise, timesteps)
        drop = torch.rand(config.unet_batch, generator=generator) < config.caption_dropout
        ids = token_ids[torch.where(drop, empty, caption_index[pick])]
        prediction = unet(noisy, timesteps, text_encoder(ids).last_hidden_state).sample
        per_image = (prediction - noise).pow(2).mean(dim=(1, 2, 3))
        loss = (per_image * loss_weights[timesteps]).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(parameters, 1.0)
        optimizer.step()
        schedule.step()
        recent = [*recent[-49:], loss.item()]
        if step % config.log_every == 0 or step == config.unet_steps:
            log("unet", step, {"loss": loss.item()})
    unet.eval()
    text_encoder.eval()
    return {"scaling_factor": scaling_factor, "unet_final_loss": float(np.mean(recent))}


def pretrain_tiny_sd(
    config: PretrainConfig, log: LogFn | None = None
) -> tuple[dict[str, Any], dict[str, float]]:
    """Build the tiny SD components from `config.seed` and pre-train them; return them and their figures.

    The figures: VAE PSNR, the latent scaling factor, final losses, parameter counts and wall times.
    """
    log = log or (lambda phase, step, values: None)
    previous_threads = torch.get_num_threads()
    if config.threads is not None:
        torch.set_num_threads(config.threads)
    try:
        return _pretrain(config, log)
    finally:
        torch.set_num_threads(previous_threads)


def _pretrain(config: PretrainConfig, log: LogFn) -> tuple[dict[str, Any], dict[str, float]]:
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    components = build_tiny_sd_components(
        seed=config.seed,
        sample_size=config.image_size,
        vae_channels=config.vae_channels,
        unet_channels=config.unet_channels,
        text_width=config.text_width,
        text_layers=config.text_layers,
    )
    figures: dict[str, float] = {
        f"{name}_parameters": float(sum(p.numel() for p in components[name].parameters()))
        for name in ("unet", "vae", "text_encoder")
    }
    started = time.perf_counter()
    figures |= train_vae(components["vae"], config, rng, log)
    figures["vae_seconds"] = time.perf_counter() - started
    components["vae"].requires_grad_(False)
    started = time.perf_counter()
    figures |= train_text_to_image(components, config, rng, log)
    figures["unet_seconds"] = time.perf_counter() - started
    return components, figures
