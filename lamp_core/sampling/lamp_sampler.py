"""LAMP's sampling loop (supplementary material, Algorithm 1), batched over videos.

1. The first frame's latent (given, or encoded from an image) stays clean; frames 2..f start from
   shared noise `0.8 n_i + 0.2 n_b` (or from given latents, e.g. a DDIM inversion for video editing).
2. DDIM with classifier-free guidance: each step runs the video UNet once on the conditional and
   unconditional batch together, on the whole video with frame 1 clean, and updates frames 2..f only.
3. AdaIN on latents after every step: frames 3..f to frame 2's statistics, then (from the switch step
   on) frames 2..f to the first frame's.
4. Decode all frames; match the histograms of frames 2..f to frame 1 per RGB channel.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import numpy as np
import torch
from diffusers import AutoencoderKL, DDIMScheduler

from lamp_core.errors import LampError
from lamp_core.model import LAMPUNet, SDBase

from .adain import adain_switch_step, apply_adain_schedule
from .device_placement import module_device, running_on
from .histogram_matching import match_to_first_frame
from .latent_codec import decode_videos, encode_frames
from .sampling_config import MemoryOptions, SamplingConfig
from .shared_noise import shared_noise

#: A first frame: a uint8 (H, W, 3) image (numpy), or a scaled VAE latent (C, h, w) (torch).
FirstFrameInput = np.ndarray | torch.Tensor
ProgressFn = Callable[[int, int], None]


def ddim_scheduler(base: SDBase, num_inference_steps: int, device: torch.device) -> DDIMScheduler:
    """A DDIM scheduler on the base's noise schedule, set to `num_inference_steps`."""
    scheduler = DDIMScheduler.from_config(base.scheduler_config)
    if scheduler.config.prediction_type != "epsilon":
        raise LampError(f"{base.source}: prediction type {scheduler.config.prediction_type!r} is not epsilon")
    scheduler.set_timesteps(num_inference_steps, device=device)
    return scheduler


@torch.no_grad()
def encode_prompts(base: SDBase, prompts: Sequence[str], device: torch.device) -> torch.Tensor:
    """Text embeddings (len(prompts), tokens, dim) from the base's tokenizer and text encoder."""
    tokens = base.tokenizer(
        list(prompts),
        padding="max_length",
        max_length=base.tokenizer.model_max_length,
        truncation=True,
        return_tensors="pt",
    )
    encoder_device = module_device(base.text_encoder)
    return base.text_encoder(tokens.input_ids.to(encoder_device))[0].to(device)


def first_frame_latents(
    base: SDBase, first_frames: Sequence[FirstFrameInput], *, sliced: bool = False
) -> torch.Tensor:
    """Scaled latents (B, C, h, w) of the first frames: images are VAE-encoded, latents taken as given."""
    if not first_frames:
        raise LampError("no first frames given")
    if all(isinstance(frame, torch.Tensor) for frame in first_frames):
        latents = torch.stack([frame.squeeze(0) if frame.ndim == 4 else frame for frame in first_frames])
        if latents.ndim != 4 or latents.shape[1] != base.vae.config.latent_channels:
            raise LampError(
                f"first-frame latents must be ({base.vae.config.latent_channels}, h, w) each, "
                f"got {tuple(first_frames[0].shape)}"
            )
        return latents.float()
    if any(isinstance(frame, torch.Tensor) for frame in first_frames):
        raise LampError("first frames must be all images (numpy uint8) or all latents (torch), not mixed")
    shapes = {np.asarray(frame).shape for frame in first_frames}
    if len(shapes) != 1:
        raise LampError(f"first frames of one batch must have one size, got {sorted(shapes)}")
    return encode_frames(base.vae, np.stack([np.asarray(frame) for frame in first_frames]), sliced=sliced)


@torch.no_grad()
def sample_videos(
    video_unet: LAMPUNet,
    base: SDBase,
    prompts: Sequence[str],
    first_frames: Sequence[FirstFrameInput],
    seeds: Sequence[int],
    *,
    n_frames: int = 16,
    config: SamplingConfig | None = None,
    memory: MemoryOptions | None = None,
    init_latents: torch.Tensor | None = None,
    device: torch.device | str | None = None,
    progress: ProgressFn | None = None,
) -> np.ndarray:
    """Sample one video per prompt, all in one batch. Returns uint8 (batch, n_frames, H, W, 3).

    first_frames: per video a uint8 (H, W, 3) image (W, H multiples of 8; see `fit_image` to resize) or a
        scaled latent (C, h, w). Frame 1 of the output is its VAE decoding.
    seeds: per video; the same seed (and device) gives the same video whatever the batch.
    init_latents: (batch, C, n_frames - 1, h, w) starting latents of frames 2..f instead of shared noise
        (the DDIM inversion of a video, for editing).
    device: where the video UNet runs (default: where it is). With `memory.cpu_offload` the models are
        moved there one at a time and back to the CPU.
    progress: called as `progress(step, total)` after every denoising step.
    """
    config = config or SamplingConfig()
    memory = memory or MemoryOptions()
    batch = len(prompts)
    if len(first_frames) != batch or len(seeds) != batch:
        raise LampError(
            f"{batch} prompts need as many first frames and seeds ({len(first_frames)}, {len(seeds)})"
        )
    if n_frames < 2:
        raise LampError(f"a video needs at least 2 frames, got n_frames={n_frames}")
    device = torch.device(device) if device is not None else module_device(video_unet)
    offload = memory.cpu_offload

    with running_on(base.text_encoder, device, offload):
        text = encode_prompts(base, prompts, device)
        if config.uses_guidance:
            text = torch.cat([encode_prompts(base, [config.negative_prompt] * batch, device), text])

    with running_on(base.vae, device, offload), _vae_tiling(base.vae, memory.vae_tiling):
        first = first_frame_latents(base, first_frames, sliced=memory.vae_slicing).to(device)[:, :, None]

    channels, latent_h, latent_w = first.shape[1], first.shape[3], first.shape[4]
    if init_latents is None:
        noise_shape = (channels, n_frames - 1, latent_h, latent_w)
        generated = shared_noise(seeds, noise_shape, config.shared_noise_weight).to(device)
    else:
        expected = (batch, channels, n_frames - 1, latent_h, latent_w)
        if tuple(init_latents.shape) != expected:
            raise LampError(f"init_latents must have shape {expected}, got {tuple(init_latents.shape)}")
        generated = init_latents.to(device=device, dtype=torch.float32)

    with running_on(video_unet, device, offload):
        latents = _denoise(video_unet, base, first, generated, text, config, device, progress)

    with running_on(base.vae, device, offload), _vae_tiling(base.vae, memory.vae_tiling):
        videos = decode_videos(base.vae, latents, sliced=memory.vae_slicing)
    if config.histogram_matching:
        videos = match_to_first_frame(videos)
    return videos.cpu().numpy()


def sample_video(
    video_unet: LAMPUNet,
    base: SDBase,
    prompt: str,
    first_frame: FirstFrameInput,
    *,
    seed: int = 0,
    n_frames: int = 16,
    config: SamplingConfig | None = None,
    memory: MemoryOptions | None = None,
    init_latents: torch.Tensor | None = None,
    device: torch.device | str | None = None,
    progress: ProgressFn | None = None,
) -> np.ndarray:
    """Sample one video: uint8 (n_frames, H, W, 3). See `sample_videos` for the arguments.

    first_frame: a uint8 (H, W, 3) image or a scaled latent (C, h, w); init_latents: (1, C, n_frames - 1,
    h, w) or (C, n_frames - 1, h, w).
    """
    if init_latents is not None and init_latents.ndim == 4:
        init_latents = init_latents[None]
    videos = sample_videos(
        video_unet,
        base,
        [prompt],
        [first_frame],
        [seed],
        n_frames=n_frames,
        config=config,
        memory=memory,
        init_latents=init_latents,
        device=device,
        progress=progress,
    )
    return videos[0]


def _denoise(
    video_unet: LAMPUNet,
    base: SDBase,
    first: torch.Tensor,
    generated: torch.Tensor,
    text: torch.Tensor,
    config: SamplingConfig,
    device: torch.device,
    progress: ProgressFn | None,
) -> torch.Tensor:
    """The DDIM loop over frames 2..f with frame 1 fed clean; returns all frames' latents (B, C, F, h, w)."""
    scheduler = ddim_scheduler(base, config.num_inference_steps, device)
    switch = adain_switch_step(config.num_inference_steps, config.adain_switch_fraction)
    generated = generated * scheduler.init_noise_sigma
    dtype = video_unet.dtype
    text = text.to(dtype)
    total = len(scheduler.timesteps)
    for step, timestep in enumerate(scheduler.timesteps):
        # Frame 1 is clean at every step and shares the step's timestep, as in tuning.
        video = scheduler.scale_model_input(torch.cat([first, generated], dim=2), timestep).to(dtype)
        model_input = torch.cat([video, video]) if config.uses_guidance else video
        noise = video_unet(model_input, timestep, text).float()[:, :, 1:]
        if config.uses_guidance:
            unconditional, conditional = noise.chunk(2)
            noise = unconditional + config.guidance_scale * (conditional - unconditional)
        generated = scheduler.step(noise, timestep, generated).prev_sample
        if config.adain:
            generated = apply_adain_schedule(generated, first, step, switch)
        if progress is not None:
            progress(step + 1, total)
    return torch.cat([first, generated], dim=2)


@contextmanager
def _vae_tiling(vae: AutoencoderKL, on: bool) -> Iterator[None]:
    """Turn the VAE's tiling on for the block (and back to what it was)."""
    if not on:
        yield
        return
    before = vae.use_tiling
    vae.enable_tiling()
    try:
        yield
    finally:
        vae.use_tiling = before
