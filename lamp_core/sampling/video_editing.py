"""Video editing (the paper's other use): tune on one video, then sample from its DDIM inversion."""

from __future__ import annotations

import numpy as np
import torch

from lamp_core.errors import LampError
from lamp_core.model import LAMPUNet, SDBase

from .ddim_inversion import ddim_invert
from .device_placement import module_device, running_on
from .lamp_sampler import ProgressFn, sample_video
from .latent_codec import check_frame_size, encode_videos
from .sampling_config import MemoryOptions, SamplingConfig


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
    config = config or SamplingConfig()
    memory = memory or MemoryOptions()
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
