"""The LAMP sampling loop on a tiny base: first frame kept, batched CFG, AdaIN schedule, seeds."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sampling_helpers import HEIGHT, WIDTH, randomize_motion

from lamp_core.errors import LampError
from lamp_core.model import InflationConfig, SDBase
from lamp_core.sampling import (
    MemoryOptions,
    SamplingConfig,
    build_video_unet,
    decode_latents,
    encode_frames,
    match_to_first_frame,
    render_first_frame,
    sample_video,
    sample_videos,
)

FAST = SamplingConfig.paper(num_inference_steps=4)


@pytest.fixture
def tuned(base: SDBase):
    """The tiny base inflated, with random (non-zero) motion weights standing in for a tuned motion."""
    unet = build_video_unet(base, InflationConfig.paper())
    randomize_motion(unet, seed=3)
    return unet


def _first_frame(seed: int = 1000, width: int = WIDTH, height: int = HEIGHT) -> np.ndarray:
    return render_first_frame("slide_right", seed, width, height).image


def test_frame_1_is_the_given_first_frame_and_the_others_are_not(base: SDBase, tuned) -> None:
    first = _first_frame()
    video = sample_video(tuned, base, "a cyan circle", first, seed=0, n_frames=5, config=FAST)
    assert video.shape == (5, HEIGHT, WIDTH, 3) and video.dtype == np.uint8
    round_trip = decode_latents(base.vae, encode_frames(base.vae, first[None]))[0].numpy()
    # Frame 1 is the first frame through the VAE. Decoded in a batch of 5 rather than alone, its float
    # values differ in the last bits, which can flip the rounding of a rare uint8 value by one level.
    difference = np.abs(video[0].astype(int) - round_trip.astype(int))
    assert difference.max() <= 1 and (difference > 0).mean() < 0.001
    for frame in video[1:]:
        assert np.abs(frame.astype(int) - video[0].astype(int)).mean() > 1.0


def test_same_seed_same_video_other_seed_other_video(base: SDBase, tuned) -> None:
    first = _first_frame()
    a = sample_video(tuned, base, "a cyan circle", first, seed=5, n_frames=4, config=FAST)
    b = sample_video(tuned, base, "a cyan circle", first, seed=5, n_frames=4, config=FAST)
    c = sample_video(tuned, base, "a cyan circle", first, seed=6, n_frames=4, config=FAST)
    np.testing.assert_array_equal(a, b)
    assert np.abs(a[1:].astype(int) - c[1:].astype(int)).mean() > 1.0


def test_each_step_runs_the_unet_once_on_the_guided_batch_with_frame_1_clean(base: SDBase, tuned) -> None:
    """Batched CFG: one UNet call per step on 2 x batch videos; frame 1 is the clean latent at every step;
    AdaIN's schedule shows in the inputs: frames 3..f carry frame 2's statistics until the switch, then
    frames 2..f carry the first frame's."""
    config = SamplingConfig.paper(num_inference_steps=6, adain_switch_fraction=0.5, guidance_scale=7.0)
    firsts = [_first_frame(1000), _first_frame(1001)]
    first_latents = encode_frames(base.vae, np.stack(firsts))
    inputs = []
    handle = tuned.register_forward_hook(lambda module, args, output: inputs.append(args[0].detach().clone()))
    try:
        sample_videos(tuned, base, ["a", "b"], firsts, [0, 1], n_frames=5, config=config)
    finally:
        handle.remove()
    assert len(inputs) == 6
    for step, sample in enumerate(inputs):
        assert sample.shape == (4, 4, 5, 6, 8)  # (2 guidance branches x 2 videos, C, F, h, w)
        torch.testing.assert_close(sample[:2, :, 0], first_latents)
        torch.testing.assert_close(sample[2:, :, 0], first_latents)
        torch.testing.assert_close(sample[:2], sample[2:])  # both branches see the same video
        mean, std = sample.mean((-2, -1)), sample.std((-2, -1), correction=0)
        if step == 0:
            continue  # the shared noise, before any AdaIN
        reference = 0 if step - 1 > 3 else 1  # after a step index above 3 (= 0.5 x 6) the first frame's
        targets = slice(1, None) if reference == 0 else slice(2, None)
        expected_mean = mean[:, :, reference : reference + 1].expand_as(mean[:, :, targets])
        expected_std = std[:, :, reference : reference + 1].expand_as(std[:, :, targets])
        torch.testing.assert_close(mean[:, :, targets], expected_mean, atol=1e-4, rtol=0)
        torch.testing.assert_close(std[:, :, targets], expected_std, atol=1e-3, rtol=1e-3)


def test_adain_phases_at_50_steps_are_the_reference_codes(
    base: SDBase, tuned, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At the paper's 50 steps, steps 0..30 take frame 2's statistics and 31..49 the first frame's (the
    reference code's `i > 30`; the paper's text says the first 30)."""
    import lamp_core.sampling.lamp_sampler as lamp_sampler

    phases = []
    original = lamp_sampler.apply_adain_schedule

    def spy(generated, first, step_index, switch_step):
        phases.append("frame 1" if step_index >= switch_step else "frame 2")
        return original(generated, first, step_index, switch_step)

    monkeypatch.setattr(lamp_sampler, "apply_adain_schedule", spy)
    sample_video(
        tuned, base, "a", _first_frame(), n_frames=3, config=SamplingConfig.paper(num_inference_steps=50)
    )
    assert phases == ["frame 2"] * 31 + ["frame 1"] * 19


def test_no_guidance_runs_a_single_branch(base: SDBase, tuned) -> None:
    shapes = []
    handle = tuned.register_forward_hook(lambda module, args, output: shapes.append(tuple(args[0].shape)))
    try:
        sample_video(
            tuned,
            base,
            "a",
            _first_frame(),
            n_frames=3,
            config=SamplingConfig.paper(num_inference_steps=2, guidance_scale=1.0),
        )
    finally:
        handle.remove()
    assert shapes == [(1, 4, 3, 6, 8)] * 2


def test_histogram_matching_is_the_last_step(base: SDBase, tuned) -> None:
    first = _first_frame()
    plain = sample_video(
        tuned,
        base,
        "a",
        first,
        n_frames=4,
        config=SamplingConfig.paper(num_inference_steps=3, histogram_matching=False),
    )
    matched = sample_video(
        tuned, base, "a", first, n_frames=4, config=SamplingConfig.paper(num_inference_steps=3)
    )
    expected = match_to_first_frame(torch.from_numpy(plain)[None])[0].numpy()
    np.testing.assert_array_equal(matched, expected)


def test_any_multiple_of_8_and_latent_first_frames(base: SDBase, tuned) -> None:
    first = _first_frame(width=40, height=24)  # latents 10 x 6: the UNet's 5 x 3 level upsamples back
    video = sample_video(
        tuned, base, "a", first, n_frames=3, config=SamplingConfig.paper(num_inference_steps=2)
    )
    assert video.shape == (3, 24, 40, 3)
    latent = encode_frames(base.vae, first[None])[0]
    from_latent = sample_video(
        tuned, base, "a", latent, n_frames=3, config=SamplingConfig.paper(num_inference_steps=2)
    )
    np.testing.assert_array_equal(from_latent, video)
    with pytest.raises(LampError, match="multiples of 8"):
        sample_video(tuned, base, "a", _first_frame(width=36, height=24), n_frames=3, config=FAST)


def test_memory_options_keep_the_result(base: SDBase, tuned) -> None:
    first = _first_frame()
    plain = sample_video(
        tuned, base, "a", first, seed=2, n_frames=3, config=SamplingConfig.paper(num_inference_steps=2)
    )
    memory = MemoryOptions(vae_slicing=True, vae_tiling=True, cpu_offload=True)
    saving = sample_video(
        tuned,
        base,
        "a",
        first,
        seed=2,
        n_frames=3,
        config=SamplingConfig.paper(num_inference_steps=2),
        memory=memory,
    )
    # VAE slicing decodes one frame at a time: a few values round the other way, and histogram matching
    # can widen such a one-level difference to two. Anything more would be a real change.
    difference = np.abs(saving.astype(int) - plain.astype(int))
    assert difference.max() <= 2 and (difference > 0).mean() < 0.001
    assert not base.vae.use_tiling  # switched back after the call


def test_bad_calls_are_clear_errors(base: SDBase, tuned) -> None:
    with pytest.raises(LampError, match="as many first frames and seeds"):
        sample_videos(tuned, base, ["a", "b"], [_first_frame()], [0, 1], n_frames=3, config=FAST)
    with pytest.raises(LampError, match="at least 2 frames"):
        sample_video(tuned, base, "a", _first_frame(), n_frames=1, config=FAST)
    with pytest.raises(LampError, match="init_latents must have shape"):
        sample_video(
            tuned, base, "a", _first_frame(), n_frames=3, config=FAST, init_latents=torch.zeros(4, 5, 6, 8)
        )
    with pytest.raises(LampError, match="num_inference_steps"):
        SamplingConfig.paper(num_inference_steps=0)
