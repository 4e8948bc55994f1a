"""Between uint8 RGB frames and scaled VAE latents, in diffusers' video layout."""

from __future__ import annotations

import numpy as np
import torch
from diffusers import AutoencoderKL

from lamp_core.errors import LampError


def vae_scale_factor(vae: AutoencoderKL) -> int:
    """Pixels per latent cell along each side (8 for SD 1.x)."""
    return 2 ** (len(vae.config.block_out_channels) - 1)


def check_frame_size(vae: AutoencoderKL, width: int, height: int) -> None:
    """Refuse a size that is not a multiple of 8 and of the VAE's scale factor."""
    step = max(8, vae_scale_factor(vae))
    if width % step or height % step or width <= 0 or height <= 0:
        raise LampError(f"width and height must be positive multiples of {step}, got {width}x{height}")


@torch.no_grad()
def encode_frames(
    vae: AutoencoderKL, frames: np.ndarray | torch.Tensor, *, sliced: bool = False
) -> torch.Tensor:
    """uint8 (N, H, W, 3) frames -> latents (N, C, H/s, W/s), scaled by the VAE's scaling factor.

    Uses the mean of the latent distribution (deterministic). `sliced` encodes one frame at a time.
    Runs on the VAE's device and dtype; returns float32 latents there.
    """
    pixels = torch.as_tensor(np.asarray(frames) if not isinstance(frames, torch.Tensor) else frames)
    if pixels.dtype != torch.uint8 or pixels.ndim != 4 or pixels.shape[-1] != 3:
        raise LampError(f"expected uint8 frames (N, H, W, 3), got {pixels.dtype} {tuple(pixels.shape)}")
    check_frame_size(vae, pixels.shape[2], pixels.shape[1])
    pixels = pixels.to(device=vae.device).permute(0, 3, 1, 2).to(vae.dtype) / 127.5 - 1.0
    chunks = pixels.split(1 if sliced else len(pixels))
    latents = torch.cat([vae.encode(chunk).latent_dist.mode() for chunk in chunks])
    # The VAE may return channels-last tensors; one layout keeps the sampler's results independent of it.
    return (latents.float() * vae.config.scaling_factor).contiguous()


@torch.no_grad()
def decode_latents(vae: AutoencoderKL, latents: torch.Tensor, *, sliced: bool = False) -> torch.Tensor:
    """Scaled latents (N, C, h, w) -> uint8 frames (N, h*s, w*s, 3) on the VAE's device.

    `sliced` decodes one frame at a time (VAE slicing: peak memory of one frame).
    """
    scaled = (latents / vae.config.scaling_factor).to(device=vae.device, dtype=vae.dtype)
    chunks = scaled.split(1 if sliced else len(scaled))
    pixels = torch.cat([vae.decode(chunk).sample for chunk in chunks]).float()
    return ((pixels + 1.0) * 127.5).round_().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1)


def encode_videos(
    vae: AutoencoderKL, videos: torch.Tensor | np.ndarray, *, sliced: bool = False
) -> torch.Tensor:
    """uint8 (B, F, H, W, 3) videos -> latents (B, C, F, h, w), diffusers' video layout."""
    videos = torch.as_tensor(np.asarray(videos) if not isinstance(videos, torch.Tensor) else videos)
    if videos.ndim != 5:
        raise LampError(f"expected videos (batch, frames, H, W, 3), got {tuple(videos.shape)}")
    batch, frames = videos.shape[:2]
    latents = encode_frames(vae, videos.flatten(0, 1), sliced=sliced)
    return latents.unflatten(0, (batch, frames)).transpose(1, 2)


def decode_videos(vae: AutoencoderKL, latents: torch.Tensor, *, sliced: bool = False) -> torch.Tensor:
    """Latents (B, C, F, h, w) -> uint8 videos (B, F, H, W, 3)."""
    batch, _, frames = latents.shape[:3]
    images = decode_latents(vae, latents.transpose(1, 2).flatten(0, 1), sliced=sliced)
    return images.unflatten(0, (batch, frames))
