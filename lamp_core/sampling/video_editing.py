"""Video editing (the paper's other use): tune on one video, then sample from its DDIM inversion
(`ddim_invert`, below: the latents that DDIM sampling would turn back into the video)."""

from __future__ import annotations

import numpy as np
import torch

from lamp_core.errors import LampError
from lamp_core.model import LAMPUNet, SDBase

from .lamp_sampler import (
    MemoryOptions,
    ProgressFn,
    SamplingConfig,
    check_frame_size,
    ddim_scheduler,
    encode_prompts,
    encode_videos,
    module_device,
    running_on,
    sample_video,
)

# DDIM inversion of a video with the video UNet: the latents that DDIM sampling would turn back into it.


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


def edit_video(
    video_unet: LAMPUNet,
    base: SDBase,
    source_video: np.ndarray,
    prompt: str,
    *,
    first_frame: np.ndarray | None = None,
    seed: int = 0,
    config: SamplingConfig | None = None,
    memory: MemoryOptions | None = None,
    inversion_prompt: str = "",
    device: torch.device | str | None = None,
    progress: ProgressFn | None = None,
) -> np.ndarray:
    """Re-generate `source_video` (uint8 (F, H, W, 3)) for `prompt`, starting from its DDIM inversion.

    The inversion (empty prompt by default, as the method does) runs for as many steps as sampling.
    first_frame: the edited video's first frame (uint8 (H, W, 3) at the video's size); default the
    source's own first frame. `seed` only matters where sampling draws noise (it does not here).
    Returns uint8 (F, H, W, 3).
    """
    config = config or SamplingConfig.paper()
    memory = memory or MemoryOptions.off()
    source_video = np.asarray(source_video)
    if source_video.dtype != np.uint8 or source_video.ndim != 4 or source_video.shape[0] < 2:
        raise LampError(
            "the source video must be uint8 (frames >= 2, H, W, 3), "
            f"got {source_video.dtype} {source_video.shape}"
        )
    height, width = source_video.shape[1:3]
    check_frame_size(base.vae, width, height)
    if first_frame is not None and np.asarray(first_frame).shape != source_video.shape[1:]:
        raise LampError(
            f"the first frame {np.asarray(first_frame).shape} must have the source video's size "
            f"{source_video.shape[1:]}"
        )
    run_device = module_device(video_unet) if device is None else torch.device(device)
    with running_on(base.vae, run_device, memory.cpu_offload):
        latents = encode_videos(base.vae, source_video[None], sliced=memory.vae_slicing)
    with (
        running_on(base.text_encoder, run_device, memory.cpu_offload),
        running_on(video_unet, run_device, memory.cpu_offload),
    ):
        inverted = ddim_invert(
            video_unet,
            base,
            latents,
            prompt=inversion_prompt,
            num_inference_steps=config.num_inference_steps,
            device=run_device,
        )
    return sample_video(
        video_unet,
        base,
        prompt,
        source_video[0] if first_frame is None else np.asarray(first_frame),
        seed=seed,
        n_frames=source_video.shape[0],
        config=config,
        memory=memory,
        init_latents=inverted,
        device=run_device,
        progress=progress,
    )
