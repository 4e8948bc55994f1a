"""The model card (README.md) written beside the weights of the pre-trained tiny base."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lamp_core.tiny_base.pretrain import PretrainConfig


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
