"""The tiny base model's components, in exactly the formats of an SD 1.x diffusers folder.

`build_tiny_sd_components` makes randomly initialised components (cheap: well under two seconds);
`save_tiny_sd` writes them as a folder that loads with the same calls as `CompVis/stable-diffusion-v1-4`:
`StableDiffusionPipeline.from_pretrained(path, safety_checker=None)`, `UNet2DConditionModel.from_pretrained(
path, subfolder="unet")`, `CLIPTokenizer.from_pretrained(path, subfolder="tokenizer")`, and so on.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import torch
from diffusers import AutoencoderKL, DDPMScheduler, StableDiffusionPipeline, UNet2DConditionModel
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

from lamp_core.atomic_write import replacing
from lamp_core.errors import LampError
from lamp_core.tiny_base.tokenizer import (
    BOS_TOKEN,
    EOS_TOKEN,
    MODEL_MAX_LENGTH,
    caption_corpus,
    save_clip_tokenizer,
    train_clip_bpe,
)

# Attention costs grow with the square of the token count: only levels at or below this side get it.
MAX_ATTENTION_SIDE = 8


def sd1_scheduler() -> DDPMScheduler:
    """The DDPM noise schedule of SD 1.x: 1000 steps, scaled-linear betas 0.00085..0.012, epsilon."""
    return DDPMScheduler(
        num_train_timesteps=1000,
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        prediction_type="epsilon",
        clip_sample=False,
        steps_offset=1,
    )


def build_tokenizer(path: str | Path) -> CLIPTokenizer:
    """Write the tiny CLIP-convention tokenizer's files into `path` and load it from there."""
    vocab, merges = train_clip_bpe(tuple(caption_corpus()))
    save_clip_tokenizer(path, vocab, merges)
    return CLIPTokenizer.from_pretrained(str(path))


def build_tiny_sd_components(
    seed: int = 0,
    sample_size: int = 64,
    vae_channels: tuple[int, ...] = (16, 32, 64),
    unet_channels: tuple[int, ...] = (32, 64, 64),
    text_width: int = 64,
    text_layers: int = 2,
    latent_channels: int = 4,
    scaling_factor: float = 1.0,
    tokenizer_dir: str | Path | None = None,
) -> dict[str, Any]:
    """Randomly initialised SD 1.x-format components, keyed as `StableDiffusionPipeline` arguments.

    `sample_size` is the image side in pixels; the VAE downsamples by `2 ** (len(vae_channels) - 1)`, and
    the UNet has one level per entry of `unet_channels` (cross-attention at latent sides <= 8).
    `scaling_factor` is the VAE's latent scale (pre-training measures it). The tokenizer is written to
    `tokenizer_dir` (a temporary folder if None). Deterministic given `seed`; leaves the global RNG as it was.
    """
    factor = 2 ** (len(vae_channels) - 1)
    latent_side = sample_size // factor
    if sample_size % factor or latent_side % 2 ** (len(unet_channels) - 1):
        raise LampError(
            f"sample_size {sample_size} must be divisible by the VAE factor {factor} times the UNet's "
            f"{2 ** (len(unet_channels) - 1)}"
        )
    for channels in (*vae_channels, *unet_channels):
        if channels % 8:
            raise LampError(f"channel counts must be multiples of 8 (GroupNorm groups), got {channels}")

    if tokenizer_dir is None:
        with tempfile.TemporaryDirectory(prefix="lamp-tokenizer-") as scratch:
            tokenizer = build_tokenizer(scratch)  # loaded into memory: the files are no longer needed
    else:
        tokenizer = build_tokenizer(tokenizer_dir)

    sides = [latent_side // 2**i for i in range(len(unet_channels))]
    down = tuple("CrossAttnDownBlock2D" if s <= MAX_ATTENTION_SIDE else "DownBlock2D" for s in sides)
    up = tuple("CrossAttnUpBlock2D" if s <= MAX_ATTENTION_SIDE else "UpBlock2D" for s in reversed(sides))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        text_encoder = CLIPTextModel(
            CLIPTextConfig(
                vocab_size=len(tokenizer),
                hidden_size=text_width,
                intermediate_size=4 * text_width,
                projection_dim=text_width,
                num_hidden_layers=text_layers,
                num_attention_heads=max(text_width // 32, 1),
                max_position_embeddings=MODEL_MAX_LENGTH,
                hidden_act="quick_gelu",
                bos_token_id=tokenizer.convert_tokens_to_ids(BOS_TOKEN),
                eos_token_id=tokenizer.convert_tokens_to_ids(EOS_TOKEN),
                pad_token_id=tokenizer.convert_tokens_to_ids(EOS_TOKEN),
            )
        )
        vae = AutoencoderKL(
            in_channels=3,
            out_channels=3,
            down_block_types=("DownEncoderBlock2D",) * len(vae_channels),
            up_block_types=("UpDecoderBlock2D",) * len(vae_channels),
            block_out_channels=tuple(vae_channels),
            layers_per_block=1,
            latent_channels=latent_channels,
            norm_num_groups=8,
            sample_size=sample_size,
            scaling_factor=scaling_factor,
            mid_block_add_attention=False,
        )
        unet = UNet2DConditionModel(
            sample_size=latent_side,
            in_channels=latent_channels,
            out_channels=latent_channels,
            down_block_types=down,
            up_block_types=up,
            block_out_channels=tuple(unet_channels),
            layers_per_block=1,
            cross_attention_dim=text_width,
            attention_head_dim=8,
            norm_num_groups=8,
        )
    return {
        "unet": unet,
        "vae": vae,
        "text_encoder": text_encoder,
        "tokenizer": tokenizer,
        "scheduler": sd1_scheduler(),
    }


def save_tiny_sd(components: dict[str, Any], path: str | Path) -> Path:
    """Save components as an SD 1.x diffusers folder (safetensors weights) at `path`, and return it.

    The folder is written beside `path` first and swapped in at the end, so a failure leaves any earlier
    model intact. An existing `path` is only replaced if it is a diffusers folder (has model_index.json).
    """
    path = Path(path)
    if path.exists() and any(path.iterdir()) and not (path / "model_index.json").is_file():
        raise LampError(f"{path}: exists and is not a diffusers model folder; refusing to overwrite it")
    missing = sorted({"unet", "vae", "text_encoder", "tokenizer", "scheduler"} - set(components))
    if missing:
        raise LampError(f"cannot save {path}: components lack {', '.join(missing)}")
    pipeline = StableDiffusionPipeline(
        vae=components["vae"],
        text_encoder=components["text_encoder"],
        tokenizer=components["tokenizer"],
        unet=components["unet"],
        scheduler=components["scheduler"],
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    with replacing(path, folder=True) as staging:
        pipeline.save_pretrained(staging, safe_serialization=True)
        _write_clip_tokenizer_files(components["tokenizer"], staging / "tokenizer")
    return path


def _write_clip_tokenizer_files(tokenizer: CLIPTokenizer, folder: Path) -> None:
    # transformers 5 saves only tokenizer.json; SD 1.x folders (and older readers) carry vocab + merges.
    model = json.loads(tokenizer.backend_tokenizer.to_str())["model"]
    merges = [m if isinstance(m, str) else " ".join(m) for m in model["merges"]]
    vocab = {token: i for token, i in tokenizer.get_vocab().items()}
    save_clip_tokenizer(folder, dict(sorted(vocab.items(), key=lambda item: item[1])), merges)
