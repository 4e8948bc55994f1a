"""Pre-training the tiny base: the VAE on rendered images, then the UNet and text encoder as a
text-to-image diffusion model on the VAE's latents and the renderer's captions; and the base's model card.

Deterministic from `PretrainConfig.seed` on CPU. Knows nothing of DVC: losses go to a `log` callback.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from diffusers import AutoencoderKL

from lamp_core.params import read_settings
from lamp_core.synthetic import sample_image
from lamp_core.tiny_base.components import build_tiny_sd_components

LogFn = Callable[[str, int, dict[str, float]], None]


@dataclass(frozen=True)
class PretrainConfig:
    """Sizes and schedule of the tiny base's pre-training (`base:` in params.yaml, their one home)."""

    seed: int
    image_size: int
    vae_channels: tuple[int, ...]
    unet_channels: tuple[int, ...]
    text_width: int
    text_layers: int
    vae_steps: int
    vae_batch: int
    vae_lr: float
    kl_weight: float
    foreground_weight: float  # extra reconstruction weight of object pixels (see `foreground_weights`)
    unet_steps: int
    unet_batch: int
    unet_lr: float
    text_lr: float | None  # the text encoder's learning rate (None: unet_lr)
    snr_gamma: float | None  # Min-SNR loss weighting (Hang et al. 2023); None: plain MSE
    caption_dropout: float  # share of empty captions, so classifier-free guidance works
    latent_pool: int  # rendered images encoded once for the UNet's training
    log_every: int
    # CPU threads for torch while pre-training (None: torch's default). Results are reproducible for a
    # given thread count; on a busy machine one thread can be several times faster than two.
    threads: int | None

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> PretrainConfig:
        """Build from a params.yaml-style mapping; unknown keys raise LampError naming them."""
        return read_settings(cls, values, "base")


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


# The model card (README.md) written beside the weights of the pre-trained tiny base.


def _megabytes(folder: Path) -> float:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 1e6


def write_model_card(
    folder: str | Path, config: PretrainConfig, figures: dict[str, Any], samples_file: str | None
) -> Path:
    """Write `folder/README.md`: what the model is, how it was made, and its measured figures."""
    folder = Path(folder)
    f = figures
    total = f["unet_parameters"] + f["vae_parameters"] + f["text_encoder_parameters"]
    factor = 2 ** (len(config.vae_channels) - 1)
    latent = config.image_size // factor
    lines = [
        "# tiny-sd: the lamp project's own tiny Stable Diffusion 1.x-format base model",
        "",
        "A text-to-image latent diffusion model in exactly the folder format of an SD 1.x diffusers model",
        "(`model_index.json`, `unet/`, `vae/`, `text_encoder/`, `tokenizer/`, `scheduler/`, safetensors",
        "weights), so everything that loads `CompVis/stable-diffusion-v1-4` loads this the same way:",
        "",
        "```python",
        "from diffusers import StableDiffusionPipeline",
        'pipe = StableDiffusionPipeline.from_pretrained("models/tiny-sd", safety_checker=None)',
        "```",
        "",
        "It exists so that the whole lamp pipeline runs on a CPU in minutes, with no download. It knows",
        "one small world only: one to three coloured shapes on a smooth textured background, as drawn by",
        '`lamp_core.synthetic` (captions like "a red circle and a blue square on a beige background").',
        "",
        "## What is in it",
        "",
        "| part | what | parameters |",
        "|---|---|---|",
        f"| unet | UNet2DConditionModel, channels {list(config.unet_channels)}, cross-attention at latent "
        f"sides <= 8, on {latent}x{latent}x4 latents | {f['unet_parameters'] / 1e6:.2f} M |",
        f"| vae | AutoencoderKL, channels {list(config.vae_channels)}, downsampling x{factor}, 4 latent "
        f"channels, scaling_factor {f['scaling_factor']:.4f} | {f['vae_parameters'] / 1e6:.2f} M |",
        f"| text_encoder | CLIPTextModel, width {config.text_width}, {config.text_layers} layers, "
        f"77 positions | {f['text_encoder_parameters'] / 1e6:.2f} M |",
        "| tokenizer | CLIPTokenizer files (vocab.json + merges.txt): byte-level BPE with CLIP's "
        "conventions, learned on the renderer's captions | - |",
        "| scheduler | DDPMScheduler, SD 1.x settings: 1000 steps, scaled_linear 0.00085..0.012, "
        "epsilon | - |",
        "",
        f"Images are {config.image_size}x{config.image_size} pixels. In all {total / 1e6:.2f} M parameters, "
        f"{_megabytes(folder):.1f} MB on disk.",
        "",
        "## How it was made",
        "",
        "`dvc repro -f base` (that is, `python -m stages.pretrain_base`) rebuilds it bit for bit from the",
        "`base:` section of params.yaml on CPU:",
        "",
        f"1. VAE: {config.vae_steps} steps of {config.vae_batch} freshly rendered images, L1 + MSE "
        f"reconstruction with object pixels weighted {1 + config.foreground_weight:g}x, plus a KL term of "
        f"weight {config.kl_weight:g}, AdamW lr {config.vae_lr:g} (warm-up, cosine decay).",
        f"2. scaling_factor = 1 / std of the latents of {config.latent_pool} rendered images.",
        f"3. UNet and text encoder together: {config.unet_steps} steps of {config.unet_batch} latents, "
        f"epsilon-prediction MSE over the 1000-step schedule"
        + (f" with Min-SNR-{config.snr_gamma:g} weighting" if config.snr_gamma is not None else "")
        + f", AdamW lr {config.unet_lr:g}"
        + (f" (text encoder {config.text_lr:g})" if config.text_lr is not None else "")
        + f", captions dropped {config.caption_dropout:.0%} of the time (for classifier-free guidance).",
        "",
        f"Seed {config.seed}. Pre-training took {f['vae_seconds']:.0f} s (VAE) + {f['unet_seconds']:.0f} s "
        "(UNet) of wall time on the machine that built it.",
        "",
        "## Figures",
        "",
        "| figure | value |",
        "|---|---|",
        f"| VAE reconstruction PSNR (64 held-out images) | {f['vae_psnr_db']:.1f} dB |",
        f"| final VAE loss | {f['vae_final_loss']:.4f} |",
        f"| final diffusion loss (mean of the last logged steps) | {f['unet_final_loss']:.4f} |",
    ]
    for key in ("color_accuracy", "shape_accuracy", "background_accuracy"):
        if key in f:
            name = key.replace("_accuracy", "")
            lines.append(
                f"| sampled images whose {name} matches the caption (the renderer's own images) | "
                f"{f[key]:.0%} ({f['rendered_' + key]:.0%}) |"
            )
    if "fidelity_samples" in f:
        lines += [
            "",
            f"Caption fidelity is read back from {f['fidelity_samples']} images sampled from random captions "
            f"(DDIM {f['sampling_steps']} steps, eta 0, guidance {f['guidance_scale']:g}) by "
            "`lamp_core.tiny_base.evaluate.caption_fidelity`; in brackets, the same reader on the "
            "renderer's images of the same captions (objects partly out of view are misread).",
        ]
    if samples_file:
        lines += ["", "## Samples", "", f"![samples from captions]({samples_file})", ""]
        if "sample_captions" in f:
            lines.append("Captions, row by row: " + "; ".join(f["sample_captions"]) + ".")
    lines += [
        "",
        "## Limits",
        "",
        "A toy for testing and demonstrating the pipeline, not a general image model: it draws nothing",
        "but the renderer's shapes and colours, at one resolution. Any real SD 1.x model (a local folder",
        "or a hub id in `base.model`) takes its place without code changes.",
        "",
    ]
    path = folder / "README.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
