"""LAMP sampling: first frames, shared noise, DDIM with classifier-free guidance on frames 2..f, AdaIN,
histogram matching; DDIM inversion for video editing; chained windows for long videos.

Typical use (also the tuning stage's validation videos)::

    unet, _ = load_tuned_unet(base, "data/motions/slide_right")
    frames = sample_video(unet, base, "a red circle on a beige background", first_frame_image, seed=0,
                          n_frames=16, config=SamplingConfig(num_inference_steps=50))
"""

from .adain import DEFAULT_ADAIN_SWITCH_FRACTION, adain, adain_switch_step, apply_adain_schedule
from .contact_sheet import contact_sheet
from .ddim_inversion import ddim_invert
from .device_placement import resolve_device, resolve_dtype
from .eval_prompts import EvalPrompt, parse_eval_prompts
from .first_frame import (
    FirstFrame,
    FirstFrameSpec,
    fit_image,
    load_image,
    render_first_frame,
    resolve_first_frames,
)
from .histogram_matching import match_histograms, match_to_first_frame
from .lamp_sampler import encode_prompts, first_frame_latents, sample_video, sample_videos
from .latent_codec import (
    check_frame_size,
    decode_latents,
    decode_videos,
    encode_frames,
    encode_videos,
    vae_scale_factor,
)
from .long_video import sample_long_video, window_count
from .motion_samples import VARIANTS, GenerateSettings, generate_motion_samples
from .sample_folder import INDEX_COLUMNS, GeneratedVideo, write_sample_folder
from .sampling_config import MemoryOptions, SamplingConfig
from .shared_noise import DEFAULT_SHARED_NOISE_WEIGHT, mix_shared_noise, shared_noise
from .text_to_image import TextToImage
from .video_editing import edit_video
from .video_model import build_video_unet, load_tuned_unet

__all__ = [
    "DEFAULT_ADAIN_SWITCH_FRACTION",
    "DEFAULT_SHARED_NOISE_WEIGHT",
    "INDEX_COLUMNS",
    "VARIANTS",
    "EvalPrompt",
    "FirstFrame",
    "FirstFrameSpec",
    "GenerateSettings",
    "GeneratedVideo",
    "MemoryOptions",
    "SamplingConfig",
    "TextToImage",
    "adain",
    "adain_switch_step",
    "apply_adain_schedule",
    "build_video_unet",
    "check_frame_size",
    "contact_sheet",
    "ddim_invert",
    "decode_latents",
    "decode_videos",
    "edit_video",
    "encode_frames",
    "encode_prompts",
    "encode_videos",
    "first_frame_latents",
    "fit_image",
    "generate_motion_samples",
    "load_image",
    "load_tuned_unet",
    "match_histograms",
    "match_to_first_frame",
    "mix_shared_noise",
    "parse_eval_prompts",
    "render_first_frame",
    "resolve_device",
    "resolve_dtype",
    "resolve_first_frames",
    "sample_long_video",
    "sample_video",
    "sample_videos",
    "shared_noise",
    "vae_scale_factor",
    "window_count",
    "write_sample_folder",
]
