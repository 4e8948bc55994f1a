"""The model shapes and settings the benchmarks run: `tiny` (the embedded default) and `sd14` (SD 1.4 shapes).

`tiny` reads params.yaml: the base named by `base.model` when that folder exists (else a randomly
initialised base of the same shapes, from `base:`), the clip size and frame count of the first motion, the
tuning settings of `tune:` and the sampling settings of `generate:`. `sd14` is the paper's setting: SD 1.4's
UNet, VAE and CLIP ViT-L/14 text encoder with random weights (nothing is downloaded), 512x320, 16 frames,
batch 1, AdamW lr 3e-5, DDIM 50 steps with guidance 12.5; it is meant for a CUDA GPU.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from diffusers import AutoencoderKL, UNet2DConditionModel
from transformers import CLIPTextConfig, CLIPTextModel

from lamp_core.errors import LampError
from lamp_core.model import SDBase, load_base
from lamp_core.params import PARAMS_FILE, load_params, motion_config
from lamp_core.sampling import GenerateSettings, SamplingConfig
from lamp_core.tiny_base import build_tiny_sd_components, sd1_scheduler
from lamp_core.tiny_base.components import build_tokenizer
from lamp_core.training import TuneSettings, base_source

from .count_params_sd14 import SD14_UNET

PRESET_NAMES = ("tiny", "sd14")

# SD 1.4's VAE (CompVis/stable-diffusion-v1-4, vae/config.json) and CLIP ViT-L/14 text encoder.
SD14_VAE: dict[str, Any] = dict(
    in_channels=3,
    out_channels=3,
    down_block_types=("DownEncoderBlock2D",) * 4,
    up_block_types=("UpDecoderBlock2D",) * 4,
    block_out_channels=(128, 256, 512, 512),
    layers_per_block=2,
    latent_channels=4,
    norm_num_groups=32,
    sample_size=512,
    scaling_factor=0.18215,
)
SD14_TEXT: dict[str, Any] = dict(
    vocab_size=49408,
    hidden_size=768,
    intermediate_size=3072,
    projection_dim=768,
    num_hidden_layers=12,
    num_attention_heads=12,
    max_position_embeddings=77,
    hidden_act="quick_gelu",
)


@dataclass(frozen=True)
class Preset:
    """One benchmark setting: which base, what clip size, and the tuning and sampling settings."""

    name: str
    width: int
    height: int
    n_frames: int
    sample_rate: int
    tune: TuneSettings
    sampling: SamplingConfig
    base_source: str  # a diffusers folder, or "random:<shape>" for random weights
    base_shapes: dict[str, Any] = field(default_factory=dict)  # how to build a random base
    needs_cuda: bool = False
    prompt: str = "an object sliding right"
    generate_threads: int = 0  # torch threads of sampling (tuning's are `tune.threads`); 0: torch's default

    def describe(self) -> dict[str, Any]:
        """JSON-ready settings, for the report."""
        return {
            "preset": self.name,
            "base": self.base_source,
            "width": self.width,
            "height": self.height,
            "n_frames": self.n_frames,
            "sample_rate": self.sample_rate,
            "batch_size": self.tune.batch_size,
            "learning_rate": self.tune.learning_rate,
            "num_inference_steps": self.sampling.num_inference_steps,
            "guidance_scale": self.sampling.guidance_scale,
            "tune_threads": self.tune.threads,
            "generate_threads": self.generate_threads,
        }

    def smoke(self) -> Preset:
        """The same shapes at 64x64, 2 frames and 2 sampling steps: proves the code runs, measures nothing."""
        sampling = SamplingConfig.paper(num_inference_steps=2, guidance_scale=self.sampling.guidance_scale)
        return Preset(
            name=self.name,
            width=64,
            height=64,
            n_frames=2,
            sample_rate=1,
            tune=self.tune,
            sampling=sampling,
            base_source=self.base_source,
            base_shapes=self.base_shapes,
            needs_cuda=False,
            prompt=self.prompt,
            generate_threads=self.generate_threads,
        )


def get_preset(name: str, params_file: str | Path = PARAMS_FILE) -> Preset:
    """The preset called `name` (`tiny` reads `params_file`)."""
    if name == "tiny":
        return _tiny_preset(params_file)
    if name == "sd14":
        return _sd14_preset(load_params(params_file))
    raise LampError(f"unknown preset {name!r} (known: {', '.join(PRESET_NAMES)})")


def _tiny_preset(params_file: str | Path) -> Preset:
    try:
        return _tiny_preset_from(load_params(params_file))
    except LampError as exc:
        raise LampError(f"preset tiny: {exc}") from None


def _tiny_preset_from(params: dict[str, Any]) -> Preset:
    # The first declared motion sizes the clips (all built-in motions share `defaults:`).
    first = next(iter(params.get("motions") or {}), None)
    if first is None:
        raise LampError("no motion under `motions:` to take the clip size and frame count from")
    motion = motion_config(params, first)
    generate = GenerateSettings.from_params(params.get("generate"))
    base = params.get("base") or {}
    source = base_source(params)
    if not (Path(source) / "model_index.json").is_file():
        source = "random:tiny"
    try:
        shapes = {
            "sample_size": int(base["image_size"]),
            "vae_channels": tuple(base["vae_channels"]),
            "unet_channels": tuple(base["unet_channels"]),
            "text_width": int(base["text_width"]),
            "text_layers": int(base["text_layers"]),
        }
    except KeyError as exc:
        raise LampError(f"{PARAMS_FILE}: missing key `base.{exc.args[0]}`") from None
    return Preset(
        name="tiny",
        width=motion.width,
        height=motion.height,
        n_frames=motion.n_frames,
        sample_rate=motion.sample_rate,
        tune=TuneSettings.for_motion(params.get("tune"), motion),
        sampling=generate.sampling,
        base_source=source,
        base_shapes=shapes,
        prompt=motion.prompt,
        generate_threads=generate.threads,
    )


def _sd14_preset(params: dict[str, Any]) -> Preset:
    # The paper's tuning recipe (LAMP_METHOD.md) over params.yaml's `tune:` (AdamW's betas, decay, eps and
    # the grad-norm clip are the paper's there already); precision and checkpointing are the benchmark's.
    paper = {"learning_rate": 3e-5, "batch_size": 1, "lr_scheduler": "constant", "validate_every": 0}
    tune = TuneSettings.from_dict({**(params.get("tune") or {}), **paper})
    return Preset(
        name="sd14",
        width=512,
        height=320,
        n_frames=16,
        sample_rate=1,
        tune=tune,
        sampling=SamplingConfig.paper(),
        base_source="random:sd14",
        needs_cuda=True,
        prompt="a horse running",
    )


def build_base(preset: Preset, device: torch.device) -> SDBase:
    """The preset's base on `device` (float32, frozen): loaded from its folder, or random weights."""
    if not preset.base_source.startswith("random:"):
        base = load_base(preset.base_source)
        return base.to(device) if device.type != "cpu" else base
    # Build straight on the device: random initialisation of SD 1.4's 1B parameters is slow on a CPU.
    # The tokenizer is read into memory when built; its files are not needed after.
    with torch.device(device), tempfile.TemporaryDirectory(prefix="lamp-bench-tokenizer-") as folder:
        if preset.name == "tiny":
            components = build_tiny_sd_components(seed=0, tokenizer_dir=folder, **preset.base_shapes)
        else:
            components = _sd14_components(Path(folder))
    for name in ("unet", "vae", "text_encoder"):
        components[name].requires_grad_(False).eval()
    return SDBase(
        unet=components["unet"],
        vae=components["vae"],
        text_encoder=components["text_encoder"],
        tokenizer=components["tokenizer"],
        scheduler_config=dict(components["scheduler"].config),
        source=preset.base_source,
        content_hash=f"{preset.base_source} (random weights, not hashed)",
    )


def _sd14_components(tokenizer_dir: Path) -> dict[str, Any]:
    # The project's tiny CLIP-convention tokenizer stands in for CLIP's (77 tokens, ids < 49408): token
    # ids do not change the cost of a forward pass.
    tokenizer = build_tokenizer(tokenizer_dir)
    text_config = CLIPTextConfig(
        **SD14_TEXT,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.eos_token_id,
    )
    return {
        "unet": UNet2DConditionModel(**SD14_UNET),
        "vae": AutoencoderKL(**SD14_VAE),
        "text_encoder": CLIPTextModel(text_config),
        "tokenizer": tokenizer,
        "scheduler": sd1_scheduler(),
    }


def random_clips(preset: Preset, n_clips: int, seed: int = 0) -> list[np.ndarray]:
    """`n_clips` uint8 (T, H, W, 3) clips of random pixels, each long enough for a few window starts.

    The benchmark measures cost, not learning, and the cost of a step does not depend on pixel values.
    """
    span = (preset.n_frames - 1) * preset.sample_rate + 1
    rng = np.random.default_rng(seed)
    return [
        rng.integers(0, 256, (span + 2, preset.height, preset.width, 3), dtype=np.uint8)
        for _ in range(n_clips)
    ]
