"""Tiny models and inputs for the tests of the LAMP video model and its tuning (nothing is downloaded)."""

from __future__ import annotations

import torch
from diffusers import UNet2DConditionModel

from lamp_core.model import BaseIdentity, InflationConfig, LAMPUNet

# SD 1.x-shaped: cross-attention and a downsampler at the top level, a channel change (conv shortcuts),
# a cross-attention mid block; 8x8 latents keep every test run in milliseconds.
TINY_UNET = dict(
    sample_size=8,
    in_channels=4,
    out_channels=4,
    down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
    up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
    block_out_channels=(32, 64),
    layers_per_block=1,
    cross_attention_dim=32,
    attention_head_dim=8,
    norm_num_groups=8,
)
TEXT_DIM = TINY_UNET["cross_attention_dim"]
TEST_BASE = BaseIdentity(source="tests/tiny-unet", content_hash="sha256:" + "0" * 64)


def make_unet(seed: int = 0, **overrides) -> UNet2DConditionModel:
    """A randomly initialised tiny SD 1.x UNet, deterministic given `seed`."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return UNet2DConditionModel(**{**TINY_UNET, **overrides}).eval()


def make_lamp(
    seed: int = 0, config: InflationConfig | None = None, base: BaseIdentity | None = TEST_BASE
) -> LAMPUNet:
    """A fresh inflation of `make_unet(seed)` (temporal attention's random init seeded too)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return LAMPUNet.from_unet2d(make_unet(seed), config, base_identity=base).eval()


def video_inputs(seed: int = 0, batch: int = 2, frames: int = 4, side: int = 8):
    """(sample (B, 4, F, side, side), timesteps (B,), text (B, 5, TEXT_DIM))."""
    generator = torch.Generator().manual_seed(seed)
    sample = torch.randn(batch, 4, frames, side, side, generator=generator)
    timesteps = torch.randint(0, 1000, (batch,), generator=generator)
    text = torch.randn(batch, 5, TEXT_DIM, generator=generator)
    return sample, timesteps, text


def randomize_motion(model: LAMPUNet, seed: int, scale: float = 0.2) -> None:
    """Stand-in for tuning: give every motion weight (and tuned projection) non-trivial values."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for _, param in sorted(model.motion_state_dict().items()):
            noise = torch.randn(param.shape, generator=generator) * scale
            param.add_(noise.to(param.dtype))
