"""Fixtures of the sampling tests: a tiny SD 1.x base (briefly pre-trained), and a motion artifact on it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from pipeline_settings import from_params
from sampling_helpers import randomize_motion

from lamp_core.model import InflationConfig, SDBase, load_base, save_motion
from lamp_core.sampling import build_video_unet
from lamp_core.tiny_base.components import build_tiny_sd_components, save_tiny_sd
from lamp_core.tiny_base.pretrain import PretrainConfig, train_text_to_image


@pytest.fixture(autouse=True)
def single_thread():
    """Run on one thread: these models are tiny, and on a shared 2-core machine thread hand-offs dominate."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def tiny_sd_dir(tmp_path_factory) -> Path:
    """A tiny SD 1.x diffusers folder. Its UNet had a few dozen denoising steps on rendered images, and its
    latent scale is measured, so its noise predictions behave like a diffusion model's (DDIM inversion
    needs that); its VAE is untrained, which no test here minds."""
    root = tmp_path_factory.mktemp("tiny_sd")
    torch.set_num_threads(1)
    components = build_tiny_sd_components(
        seed=0,
        sample_size=32,
        vae_channels=(16, 32, 32),
        unet_channels=(32, 64),
        text_width=32,
        text_layers=1,
        tokenizer_dir=root / "tokenizer_build",
    )
    components["vae"].requires_grad_(False)
    config = from_params(
        PretrainConfig,
        "base",
        image_size=32,
        unet_steps=30,
        unet_batch=8,
        unet_lr=2e-3,
        latent_pool=128,
        threads=None,
    )
    train_text_to_image(components, config, np.random.default_rng(0), lambda *args: None)
    return save_tiny_sd(components, root / "sd")


@pytest.fixture
def base(tiny_sd_dir: Path) -> SDBase:
    """The tiny base, freshly loaded (inflation changes its UNet in place)."""
    return load_base(tiny_sd_dir)


@pytest.fixture(scope="session")
def motion_dir(tiny_sd_dir: Path, tmp_path_factory) -> Path:
    """A motion artifact tuned (randomly) on the tiny base."""
    unet = build_video_unet(load_base(tiny_sd_dir), InflationConfig.paper())
    randomize_motion(unet, seed=7)
    return save_motion(tmp_path_factory.mktemp("motions") / "slide_right", unet, metadata={"steps": 0})
