"""LAMP's sampling loop (supplementary material, Algorithm 1), batched over videos.

1. The first frame's latent (given, or encoded from an image) stays clean; frames 2..f start from
   shared noise `0.8 n_i + 0.2 n_b` (or from given latents, e.g. a DDIM inversion for video editing).
2. DDIM with classifier-free guidance: each step runs the video UNet once on the conditional and
   unconditional batch together, on the whole video with frame 1 clean, and updates frames 2..f only.
3. AdaIN on latents after every step: frames 3..f to frame 2's statistics, then (from the switch step
   on) frames 2..f to the first frame's.
4. Decode all frames; match the histograms of frames 2..f to frame 1 per RGB channel.

The parts of each step are in this module in that order (shared noise, AdaIN and its schedule, the
sampler's knobs `SamplingConfig` and `MemoryOptions`, histogram matching, the VAE codec, device
placement), then the loop itself, then `sample_long_video` (beyond the paper: windows chained through
their boundary frames).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from diffusers import AutoencoderKL, DDIMScheduler
from torch import nn

from lamp_core.errors import LampError
from lamp_core.model import LAMPUNet, SDBase
from lamp_core.params import read_settings

# LAMP's shared-noise initialisation: every generated frame starts from its own noise plus a shared part.

#: The method's weight of the shared noise: x_T^i = 0.8 n_i + 0.2 n_b.
DEFAULT_SHARED_NOISE_WEIGHT = 0.2


def mix_shared_noise(
    frame_noise: torch.Tensor, base_noise: torch.Tensor, weight: float = DEFAULT_SHARED_NOISE_WEIGHT
) -> torch.Tensor:
    """`(1 - weight) * frame_noise + weight * base_noise`, not renormalised (as the method does).

    frame_noise: (batch, channels, frames, height, width), one draw per frame.
    base_noise: the same with a frame axis of 1: one draw per video, shared by its frames.
    """
    if not 0.0 <= weight <= 1.0:
        raise LampError(f"shared-noise weight must be in [0, 1], got {weight}")
    return (1.0 - weight) * frame_noise + weight * base_noise


def shared_noise(
    seeds: Sequence[int],
    shape: tuple[int, int, int, int],
    weight: float = DEFAULT_SHARED_NOISE_WEIGHT,
) -> torch.Tensor:
    """Initial noise of the generated frames of `len(seeds)` videos, float32 on the CPU.

    shape: (channels, frames, height, width) of one video's generated frames (frames 2..f).
    Each video draws from its own generator seeded with its seed, base noise first, then one draw per
    frame, so a video's noise does not depend on the batch it is sampled in, nor on the device.
    Returns (len(seeds), channels, frames, height, width).
    """
    channels, frames, height, width = shape
    videos = []
    for seed in seeds:
        generator = torch.Generator().manual_seed(int(seed))
        base = torch.randn((channels, 1, height, width), generator=generator)
        per_frame = torch.randn((channels, frames, height, width), generator=generator)
        videos.append(mix_shared_noise(per_frame, base, weight))
    return torch.stack(videos)


# AdaIN on latents, and LAMP's two-phase schedule of it during sampling.

#: AdaIN's reference switches after 60% of the steps. The reference code switches once the step index
#: (from 0) exceeds 30 of 50, so the first phase has 31 steps; the paper's text reads "the first 30".
DEFAULT_ADAIN_SWITCH_FRACTION = 0.6


def adain(content: torch.Tensor, reference: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Give each (channel, frame) map of `content` the mean and std over H x W of `reference`.

    content: (batch, channels, frames, height, width); reference: the same with frames 1 (or frames
    equal), broadcast over content's frames. Std is the population std; `eps` guards constant maps.
    """
    dims = (-2, -1)
    content_mean = content.mean(dim=dims, keepdim=True)
    content_std = content.std(dim=dims, keepdim=True, correction=0)
    reference_mean = reference.mean(dim=dims, keepdim=True)
    reference_std = reference.std(dim=dims, keepdim=True, correction=0)
    return (content - content_mean) / (content_std + eps) * reference_std + reference_mean


def adain_switch_step(num_steps: int, switch_fraction: float = DEFAULT_ADAIN_SWITCH_FRACTION) -> int:
    """The first step (0-based) of AdaIN's second phase: the first index greater than
    `switch_fraction * num_steps`, as the reference code's `i > 30` at 50 steps (so 31 at 50, 16 at 25).

    Capped at `num_steps` (no second phase), which is what `switch_fraction` 1 gives.
    """
    # The tolerance keeps products such as 0.6 * 35 (20.999999999999996 in floats) at their exact value.
    return min(math.floor(switch_fraction * num_steps + 1e-9) + 1, num_steps)


def apply_adain_schedule(
    generated: torch.Tensor, first_frame: torch.Tensor, step_index: int, switch_step: int
) -> torch.Tensor:
    """LAMP's AdaIN after denoising step `step_index` (0-based).

    generated: latents of frames 2..f, (batch, channels, frames - 1, height, width).
    first_frame: the clean first-frame latent, (batch, channels, 1, height, width).
    Before `switch_step`, frames 3..f take the statistics of frame 2; from it on, frames 2..f take the
    first frame's. (First-frame statistics from the start cause artifacts, the method notes.)
    """
    if step_index >= switch_step:
        return adain(generated, first_frame)
    if generated.shape[2] < 2:
        return generated
    second = generated[:, :, :1]
    return torch.cat([second, adain(generated[:, :, 1:], second)], dim=2)


# The knobs of LAMP sampling and the memory options of a sampling run. Neither has defaults: the pipeline's
# values live in params.yaml (`generate:`); `SamplingConfig.paper()` is the paper's, the library's own choice.


@dataclass(frozen=True)
class SamplingConfig:
    """How frames 2..f are sampled. `SamplingConfig.paper()`: the paper's values (Algorithm 1).

    num_inference_steps: DDIM steps (eta 0). guidance_scale: classifier-free guidance (<= 1: none).
    shared_noise_weight: x_T^i = (1 - w) n_i + w n_b. adain_switch_fraction: share of the steps in AdaIN's
    first phase (frames 3..f to frame 2's statistics) before the second (frames 2..f to the first frame's).
    histogram_matching: match frames 2..f to frame 1 per RGB channel after decoding.
    """

    num_inference_steps: int
    guidance_scale: float
    negative_prompt: str
    shared_noise_weight: float
    adain: bool
    adain_switch_fraction: float
    histogram_matching: bool

    @classmethod
    def paper(cls, **changes: Any) -> SamplingConfig:
        """The paper's sampling (50 DDIM steps, guidance 12.5, shared noise 0.2, AdaIN at 0.6, histogram
        matching), with `changes` applied."""
        paper = {
            "num_inference_steps": 50,
            "guidance_scale": 12.5,
            "negative_prompt": "",
            "shared_noise_weight": DEFAULT_SHARED_NOISE_WEIGHT,
            "adain": True,
            "adain_switch_fraction": DEFAULT_ADAIN_SWITCH_FRACTION,
            "histogram_matching": True,
        }
        return cls(**(paper | changes))

    def __post_init__(self) -> None:
        if not isinstance(self.num_inference_steps, int) or self.num_inference_steps < 1:
            raise LampError(
                f"num_inference_steps must be a positive integer, got {self.num_inference_steps!r}"
            )
        if not self.guidance_scale >= 0:
            raise LampError(f"guidance_scale must be >= 0, got {self.guidance_scale!r}")
        if not 0.0 <= self.shared_noise_weight <= 1.0:
            raise LampError(f"shared_noise_weight must be in [0, 1], got {self.shared_noise_weight!r}")
        if not 0.0 <= self.adain_switch_fraction <= 1.0:
            raise LampError(f"adain_switch_fraction must be in [0, 1], got {self.adain_switch_fraction!r}")

    @property
    def uses_guidance(self) -> bool:
        """Whether classifier-free guidance runs (an unconditional branch is batched with the prompt's)."""
        return self.guidance_scale > 1.0

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], where: str) -> SamplingConfig:
        """Build from a params-style mapping holding some of the fields; unknown keys are an error."""
        return read_settings(cls, values, where)


@dataclass(frozen=True)
class MemoryOptions:
    """What a user on a small GPU turns on. Attention always runs through PyTorch's SDPA.

    vae_slicing: encode/decode one frame at a time. vae_tiling: the VAE works in overlapping tiles
    (large frames). cpu_offload: text encoder, video UNet and VAE stay on the CPU and each moves to the
    device only while it runs.
    """

    vae_slicing: bool
    vae_tiling: bool
    cpu_offload: bool

    @classmethod
    def off(cls) -> MemoryOptions:
        """Everything off: the whole model on the device, the VAE on whole frames."""
        return cls(vae_slicing=False, vae_tiling=False, cpu_offload=False)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], where: str) -> MemoryOptions:
        """Build from a params-style mapping holding some of the fields; unknown keys are an error."""
        return read_settings(cls, values, where)


# Histogram matching of uint8 RGB frames, per channel (LAMP's last step: it removes colour flicker).

_LEVELS = 256


def match_histograms(frames: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """Map each channel of each frame so that its histogram matches the reference's same channel.

    frames: uint8 (..., height, width, 3); reference: uint8 (..., h, w, 3) whose leading dims broadcast
    against `frames`' (e.g. one reference per video, `(batch, 1, h, w, 3)` for frames `(batch, f, ...)`).
    Each value v goes to the smallest reference value whose cumulative share reaches v's, so equal values
    stay equal (flat areas stay flat) and a frame that is a monotone relabelling of the reference gets
    exactly the reference's histogram. Vectorised over frames and channels; runs on the tensors' device.
    """
    if frames.dtype != torch.uint8 or reference.dtype != torch.uint8:
        raise LampError(f"histogram matching needs uint8 frames, got {frames.dtype} and {reference.dtype}")
    if frames.ndim < 3 or frames.shape[-1] != reference.shape[-1] or reference.ndim != frames.ndim:
        raise LampError(
            f"histogram matching: frames {tuple(frames.shape)} and reference {tuple(reference.shape)} "
            "must both be (..., height, width, channels) with the same channels and number of dims"
        )
    leading = torch.broadcast_shapes(frames.shape[:-3], reference.shape[:-3])
    source = frames.expand(*leading, *frames.shape[-3:])
    target = reference.expand(*leading, *reference.shape[-3:])
    channels = frames.shape[-1]
    # One row per (image, channel): (N * C, pixels).
    source_rows = source.reshape(-1, source.shape[-3] * source.shape[-2], channels).transpose(1, 2)
    target_rows = target.reshape(-1, target.shape[-3] * target.shape[-2], channels).transpose(1, 2)
    source_rows = source_rows.reshape(-1, source_rows.shape[-1]).long()
    target_rows = target_rows.reshape(-1, target_rows.shape[-1]).long()
    source_cumulative = _cumulative_counts(source_rows)
    target_cumulative = _cumulative_counts(target_rows)
    # Compare cumulative shares exactly in integers: cum_s/n_s <= cum_r/n_r iff cum_s*n_r <= cum_r*n_s.
    n_source, n_target = source_rows.shape[1], target_rows.shape[1]
    mapping = torch.searchsorted(target_cumulative * n_source, source_cumulative * n_target)
    mapping = mapping.clamp_(max=_LEVELS - 1)
    matched = mapping.gather(1, source_rows).to(torch.uint8)
    matched = matched.reshape(-1, channels, source.shape[-3] * source.shape[-2]).transpose(1, 2)
    return matched.reshape(source.shape)


def match_to_first_frame(videos: torch.Tensor) -> torch.Tensor:
    """Frames 2..f of each video matched to its frame 1; videos uint8 (batch, frames, height, width, 3)."""
    if videos.ndim != 5:
        raise LampError(f"expected videos (batch, frames, height, width, 3), got {tuple(videos.shape)}")
    first = videos[:, :1]
    return torch.cat([first, match_histograms(videos[:, 1:], first)], dim=1)


def _cumulative_counts(rows: torch.Tensor) -> torch.Tensor:
    """Per row, how many values are <= v for v = 0..255: (rows, 256) int64."""
    counts = torch.zeros(rows.shape[0], _LEVELS, dtype=torch.long, device=rows.device)
    counts.scatter_add_(1, rows, torch.ones_like(rows))
    return counts.cumsum(dim=1)


# Between uint8 RGB frames and scaled VAE latents, in diffusers' video layout.


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


# Where each model runs during sampling, and model-level CPU offload.


@contextmanager
def running_on(module: nn.Module, device: torch.device, offload: bool) -> Iterator[nn.Module]:
    """Run `module` on `device` for the `with` block.

    With `offload`, the module is moved to `device` on entry and back to the CPU on exit (only one model
    occupies the accelerator at a time). Without, it is left where the caller put it.
    """
    if not offload:
        yield module
        return
    module.to(device)
    try:
        yield module
    finally:
        module.to("cpu")
        if device.type == "cuda":
            torch.cuda.empty_cache()


def module_device(module: nn.Module) -> torch.device:
    """The device of a module's first parameter (CPU for a module without parameters)."""
    for parameter in module.parameters():
        return parameter.device
    return torch.device("cpu")


_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def resolve_device(name: str | None = "auto") -> torch.device:
    """`auto` (or None): CUDA when available, else the CPU; otherwise the named device."""
    if name in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError) as exc:
        raise LampError(f"device {name!r}: {exc}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise LampError(f"device {name!r}: CUDA is not available on this machine")
    return device


def resolve_dtype(name: str | None, device: torch.device) -> torch.dtype:
    """`auto` (or None): float16 on CUDA, float32 elsewhere; else float32, float16 or bfloat16."""
    if name in (None, "auto"):
        return torch.float16 if device.type == "cuda" else torch.float32
    if name not in _DTYPES:
        raise LampError(f"dtype {name!r}: expected auto, {', '.join(_DTYPES)}")
    return _DTYPES[name]


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
    config = config or SamplingConfig.paper()
    memory = memory or MemoryOptions.off()
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


# Videos longer than one window (beyond the paper): windows chained through their boundary frames.
#
# Window k starts from the last frame of window k-1 (as generated: decoded and histogram-matched) and
# adds `window_frames - 1` new frames; window k uses seed `seed + k`. Each window sees only its own first
# frame, so errors compound with length: measured on the tiny base shipped before 2026-11-22 with a
# tuned `orbit` (8-frame windows, 6 videos), the object's colour was kept in 100% of frames 2-8 but 67%
# of frames 22-36, and the background drifted in the last window. One longer window (`n_frames` = the
# full length) kept them better there, at a cost that grows with the square of the frame count in
# temporal attention.


def window_count(total_frames: int, window_frames: int) -> int:
    """How many chained windows of `window_frames` cover `total_frames` (neighbours share a frame)."""
    if window_frames < 2:
        raise LampError(f"a window needs at least 2 frames, got {window_frames}")
    if total_frames < window_frames:
        return 1
    return 1 + math.ceil((total_frames - window_frames) / (window_frames - 1))


def sample_long_video(
    video_unet: LAMPUNet,
    base: SDBase,
    prompt: str,
    first_frame: np.ndarray,
    *,
    total_frames: int,
    window_frames: int = 16,
    seed: int = 0,
    config: SamplingConfig | None = None,
    memory: MemoryOptions | None = None,
    device: str | None = None,
    progress: ProgressFn | None = None,
) -> np.ndarray:
    """A video of `total_frames` frames from chained windows: uint8 (total_frames, H, W, 3).

    first_frame: uint8 (H, W, 3). progress: called as `progress(step, total)` over all windows' steps.
    """
    if total_frames < 2:
        raise LampError(f"a video needs at least 2 frames, got total_frames={total_frames}")
    windows = window_count(total_frames, window_frames)
    frames_per_window = min(window_frames, total_frames)
    pieces: list[np.ndarray] = []
    start = np.asarray(first_frame)
    for window in range(windows):
        done = window

        def window_progress(step: int, total: int, done: int = done) -> None:
            if progress is not None:
                progress(done * total + step, windows * total)

        video = sample_video(
            video_unet,
            base,
            prompt,
            start,
            seed=seed + window,
            n_frames=frames_per_window,
            config=config,
            memory=memory,
            device=device,
            progress=window_progress,
        )
        pieces.append(video if window == 0 else video[1:])
        start = video[-1]
    return np.concatenate(pieces)[:total_frames]
