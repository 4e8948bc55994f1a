"""DDIM inversion and the video-editing path that starts from it."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sampling_helpers import HEIGHT, WIDTH, randomize_motion

from lamp_core.model import InflationConfig, SDBase
from lamp_core.sampling import (
    SamplingConfig,
    build_video_unet,
    ddim_invert,
    decode_latents,
    decode_videos,
    edit_video,
    encode_frames,
    encode_videos,
    sample_video,
)
from lamp_core.sampling.lamp_sampler import ddim_scheduler
from lamp_core.synthetic import render_clip, sample_scene

NO_GUIDANCE = SamplingConfig.paper(
    num_inference_steps=10, guidance_scale=1.0, adain=False, histogram_matching=False
)


def _source_clip(n_frames: int = 5) -> np.ndarray:
    scene = sample_scene("slide_right", np.random.default_rng(5), WIDTH, HEIGHT)
    return render_clip(scene, n_frames, WIDTH, HEIGHT)


class TimeOnlyNoise(torch.nn.Module):
    """A stand-in UNet whose noise prediction depends on the timestep only: DDIM is then exactly
    invertible, so any mismatch of the inversion's timesteps or alphas with the sampler's shows."""

    def __init__(self) -> None:
        super().__init__()
        self.pattern = torch.nn.Parameter(
            torch.randn(1, 4, 1, 6, 8, generator=torch.Generator().manual_seed(0))
        )

    dtype = torch.float32

    def forward(self, sample, timestep, text):
        return self.pattern * torch.sin(torch.as_tensor(timestep, dtype=torch.float32) / 97.0).expand_as(
            sample
        )


def test_inversion_is_the_exact_inverse_of_ddim_sampling(base: SDBase) -> None:
    model = TimeOnlyNoise()
    latents = encode_videos(base.vae, _source_clip()[None])
    inverted = ddim_invert(model, base, latents, num_inference_steps=10)
    assert inverted.shape == (1, 4, 4, 6, 8)
    assert (inverted - latents[:, :, 1:]).abs().mean() > 0.1  # really moved towards noise
    scheduler = ddim_scheduler(base, 10, torch.device("cpu"))
    generated = inverted
    for timestep in scheduler.timesteps:
        noise = model(torch.cat([latents[:, :, :1], generated], 2), timestep, None)[:, :, 1:]
        generated = scheduler.step(noise, timestep, generated).prev_sample
    torch.testing.assert_close(generated, latents[:, :, 1:], atol=1e-4, rtol=1e-4)


def test_inversion_then_unguided_sampling_reconstructs_the_video_with_the_untuned_model(base: SDBase) -> None:
    unet = build_video_unet(base, InflationConfig.paper())  # untuned
    clip = _source_clip()
    latents = encode_videos(base.vae, clip[None])
    round_trip = decode_videos(base.vae, latents)[0].numpy().astype(float)
    inverted = ddim_invert(unet, base, latents, num_inference_steps=10)
    rebuilt = sample_video(unet, base, "", clip[0], n_frames=5, config=NO_GUIDANCE, init_latents=inverted)
    from_noise = sample_video(unet, base, "", clip[0], seed=3, n_frames=5, config=NO_GUIDANCE)
    error = np.abs(rebuilt[1:] - round_trip[1:]).mean()
    baseline = np.abs(from_noise[1:].astype(float) - round_trip[1:]).mean()
    assert error < 0.3 * baseline, (error, baseline)
    assert error < 10.0  # mean absolute error in 0..255 pixel levels


def test_edit_video_samples_from_the_inversion(base: SDBase) -> None:
    unet = build_video_unet(base, InflationConfig.paper())
    randomize_motion(unet, seed=4)
    clip = _source_clip(4)
    config = SamplingConfig.paper(num_inference_steps=3)
    edited = edit_video(unet, base, clip, "a red square", config=config)
    inverted = ddim_invert(unet, base, encode_videos(base.vae, clip[None]), num_inference_steps=3)
    expected = sample_video(
        unet, base, "a red square", clip[0], n_frames=4, config=config, init_latents=inverted
    )
    np.testing.assert_array_equal(edited, expected)
    assert edited.shape == clip.shape
    other_first = np.full_like(clip[0], 90)
    recoloured = edit_video(unet, base, clip, "a red square", first_frame=other_first, config=config)
    # Frame 1 is the new first frame, VAE-decoded. The sampler decodes it in a batch of 4 frames, this
    # check alone: the convolutions may take other kernels for another batch size, so a pixel near a
    # rounding boundary may land one 8-bit level away (seen on an AVX-512 machine), never more.
    alone = np.asarray(decode_latents(base.vae, encode_frames(base.vae, other_first[None]))[0])
    difference = np.abs(recoloured[0].astype(int) - alone.astype(int))
    assert difference.max() <= 1 and (difference == 0).mean() > 0.99, (difference.max(), difference.mean())
    assert not np.array_equal(recoloured[1:], edited[1:])


def test_edit_video_refuses_bad_sources(base: SDBase) -> None:
    unet = build_video_unet(base, InflationConfig.paper())
    with pytest.raises(ValueError, match="source video must be uint8"):
        edit_video(unet, base, _source_clip(1), "a")
    with pytest.raises(ValueError, match="must have the source video's size"):
        edit_video(unet, base, _source_clip(3), "a", first_frame=np.zeros((8, 8, 3), np.uint8))
