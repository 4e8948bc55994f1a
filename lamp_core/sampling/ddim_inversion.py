"""DDIM inversion of a video with the video UNet: the latents that DDIM sampling would turn back into it."""

from __future__ import annotations

import torch

from lamp_core.errors import LampError
from lamp_core.model import LAMPUNet, SDBase

from .device_placement import module_device
from .lamp_sampler import ProgressFn, ddim_scheduler, encode_prompts


@torch.no_grad()
def ddim_invert(
    video_unet: LAMPUNet,
    base: SDBase,
    video_latents: torch.Tensor,
    *,
    prompt: str = "",
    num_inference_steps: int = 50,
    device: torch.device | str | None = None,
    progress: ProgressFn | None = None,
) -> torch.Tensor:
    """Invert frames 2..f of `video_latents` (B, C, F, h, w) to the first timestep of a
    `num_inference_steps` DDIM schedule, with frame 1 fed clean at every step as in sampling.

    Runs DDIM backwards (eta 0, no guidance, `prompt` for every video; the method uses the empty
    prompt): from the clean latents, each step takes the noise the UNet predicts at the next, noisier
    timestep and moves the latents there along the deterministic DDIM path. Returns (B, C, F - 1, h, w),
    the `init_latents` of `sample_videos`.
    """
    if video_latents.ndim != 5 or video_latents.shape[2] < 2:
        raise LampError(
            f"video latents must be (batch, channels, frames >= 2, h, w), got {tuple(video_latents.shape)}"
        )
    device = torch.device(device) if device is not None else module_device(video_unet)
    scheduler = ddim_scheduler(base, num_inference_steps, device)
    alphas = scheduler.alphas_cumprod.to(device=device, dtype=torch.float64)
    latents = video_latents.to(device=device, dtype=torch.float32)
    first, generated = latents[:, :, :1], latents[:, :, 1:]
    text = encode_prompts(base, [prompt] * latents.shape[0], device).to(video_unet.dtype)
    # The level the sampler's last step lands on (1.0 or alphas_cumprod[0], as the schedule says).
    alpha = torch.as_tensor(scheduler.final_alpha_cumprod, dtype=torch.float64, device=device)
    timesteps = scheduler.timesteps.flip(0)
    for step, timestep in enumerate(timesteps):
        video = torch.cat([first, generated], dim=2).to(video_unet.dtype)
        noise = video_unet(video, timestep, text).float()[:, :, 1:]
        alpha_next = alphas[timestep]
        clean = (generated - (1 - alpha).sqrt().float() * noise) / alpha.sqrt().float()
        generated = alpha_next.sqrt().float() * clean + (1 - alpha_next).sqrt().float() * noise
        alpha = alpha_next
        if progress is not None:
            progress(step + 1, len(timesteps))
    return generated
