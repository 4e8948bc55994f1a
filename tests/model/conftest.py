"""Fixtures of the LAMP video model tests."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from lamp_core.tiny_base.components import build_tiny_sd_components, save_tiny_sd


@pytest.fixture(autouse=True)
def single_thread():
    """Run on one thread: these models are tiny, and on a shared 2-core machine thread hand-offs dominate."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def tiny_sd_dir(tmp_path_factory) -> Path:
    """A tiny SD 1.x diffusers folder (the project's tiny base builder, random weights)."""
    root = tmp_path_factory.mktemp("tiny_sd")
    components = build_tiny_sd_components(
        seed=0,
        sample_size=32,
        vae_channels=(16, 32),
        unet_channels=(32, 64),
        text_width=32,
        text_layers=1,
        tokenizer_dir=root / "tokenizer_build",
    )
    return save_tiny_sd(components, root / "sd")
