"""LAMP's training objective: first-frame-conditioned noise prediction.

One diffusion timestep is drawn per video and shared by all its frames; after noising, the first frame's
latent is put back clean, and the noise-prediction MSE covers frames 2..f only. The first frame carries
the content, so the model learns the motion.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from diffusers import DDPMScheduler
from torch import nn


@dataclass(frozen=True)
class LossOutput:
    """The loss and what it was computed from (for logging and tests)."""

    loss: torch.Tensor
    noise_pred: torch.Tensor
    noise: torch.Tensor
    noisy: torch.Tensor
    timesteps: torch.Tensor


def noisy_videos(
    latents: torch.Tensor, noise: torch.Tensor, timesteps: torch.Tensor, scheduler: DDPMScheduler
) -> torch.Tensor:
    """Noise (batch, channels, frames, h, w) latents at one timestep per video; frame 1 stays clean."""
    noisy = scheduler.add_noise(latents, noise, timesteps)
    return torch.cat([latents[:, :, :1], noisy[:, :, 1:]], dim=2)


def lamp_loss(noise_pred: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """Mean squared error of the predicted noise over frames 2..f (in float32)."""
    return F.mse_loss(noise_pred[:, :, 1:].float(), noise[:, :, 1:].float())


def lamp_loss_step(
    unet: nn.Module,
    latents: torch.Tensor,
    text_embeddings: torch.Tensor,
    scheduler: DDPMScheduler,
    generator: torch.Generator,
) -> LossOutput:
    """Draw noise and one timestep per video (from `generator`, on the CPU), noise, predict, and score.

    latents: clean (batch, channels, frames, h, w) latents on the model's device; text_embeddings:
    (batch, tokens, dim). Random draws happen on the CPU so that they do not depend on the device.
    """
    batch = latents.shape[0]
    noise = torch.randn(latents.shape, generator=generator, dtype=torch.float32).to(latents)
    timesteps = torch.randint(
        0, scheduler.config.num_train_timesteps, (batch,), generator=generator, dtype=torch.long
    ).to(latents.device)
    noisy = noisy_videos(latents, noise, timesteps, scheduler)
    noise_pred = unet(noisy, timesteps, text_embeddings)
    return LossOutput(lamp_loss(noise_pred, noise), noise_pred, noise, noisy, timesteps)
