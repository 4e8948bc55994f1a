"""The latent cache: frames encoded once (plain and mirrored), captions embedded once, saved and reused."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import sliding_clips

from lamp_core.model import load_base
from lamp_core.training import LatentCache, Window, WindowSampler, build_latent_cache


@pytest.fixture(scope="module")
def base(tiny_sd_dir):
    return load_base(tiny_sd_dir)


def _encode(vae, frames: np.ndarray) -> torch.Tensor:
    pixels = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float() / 127.5 - 1.0
    return vae.encode(pixels).latent_dist.mean * vae.config.scaling_factor


def test_every_frame_is_encoded_once_plain_and_mirrored(base, monkeypatch) -> None:
    clips = sliding_clips(n_clips=3, n_frames=5)
    encoded = []
    encode = base.vae.encode
    monkeypatch.setattr(base.vae, "encode", lambda images: encoded.append(len(images)) or encode(images))
    cache = build_latent_cache(
        clips, ["a", "b", "a"], base.vae, base.tokenizer, base.text_encoder, "f", chunk=4
    )
    assert sum(encoded) == 2 * 3 * 5

    with torch.no_grad():
        plain, mirrored = _encode(base.vae, clips[1]), _encode(base.vae, clips[1][:, :, ::-1])
    torch.testing.assert_close(cache.mean[1][0], plain, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(cache.mean[1][1], mirrored, rtol=1e-5, atol=1e-5)
    # why mirrored frames are encoded rather than mirrored latents: the VAE is not mirror-symmetric
    assert not torch.allclose(cache.mean[1][1], plain.flip(-1), atol=1e-3)
    assert (cache.std[1] > 0).all()


def test_windows_take_their_frames_and_captions_from_the_cache(base, monkeypatch) -> None:
    clips = sliding_clips(n_clips=2, n_frames=8)
    cache = build_latent_cache(clips, ["left", "right"], base.vae, base.tokenizer, base.text_encoder, "f")
    assert cache.text.shape[0] == 2 and cache.clip_lengths == [8, 8]
    monkeypatch.setattr(base.vae, "encode", lambda images: pytest.fail("encoded during training"))

    sampler = WindowSampler(cache.clip_lengths, n_frames=3, stride=2, seed=0)
    windows = [Window(clip=1, start=1, flip=True), Window(clip=0, start=2, flip=False)]
    frames = [sampler.frame_indices(w) for w in windows]
    videos = cache.videos(windows, frames, torch.Generator().manual_seed(0))
    assert videos.shape == (2, 4, 3, 8, 8)
    exact = LatentCache(
        cache.mean, tuple(torch.zeros_like(s) for s in cache.std), cache.text, cache.caption_index, "f"
    )
    means = exact.videos(windows, frames, torch.Generator())
    torch.testing.assert_close(means[0], cache.mean[1][1, [1, 3, 5]].transpose(0, 1), rtol=0, atol=0)
    torch.testing.assert_close(means[1], cache.mean[0][0, [2, 4, 6]].transpose(0, 1), rtol=0, atol=0)
    # a fresh sample of each frame's latent distribution: standardised residuals are standard normal
    stds = torch.stack([cache.std[1][1, [1, 3, 5]], cache.std[0][0, [2, 4, 6]]]).transpose(1, 2)
    residuals = (videos - means) / stds
    assert abs(residuals.mean()) < 0.1 and 0.9 < residuals.std() < 1.1
    text = cache.text_embeddings(windows)
    assert torch.equal(text[0], cache.text[cache.caption_index[1]]) and not torch.equal(text[0], text[1])


def test_a_saved_cache_is_reused_only_for_the_same_inputs(base, tmp_path) -> None:
    cache = build_latent_cache(
        sliding_clips(n_clips=2), ["a", "a"], base.vae, base.tokenizer, base.text_encoder, "v1"
    )
    path = tmp_path / "latents.safetensors"
    cache.save(path)
    loaded = LatentCache.load(path, "v1")
    assert loaded is not None and loaded.text.shape[0] == 1
    for ours, theirs in zip(cache.mean + cache.std, loaded.mean + loaded.std, strict=True):
        assert torch.equal(ours, theirs)
    assert LatentCache.load(path, "v2") is None
    path.write_bytes(b"not safetensors")
    assert LatentCache.load(path, "v1") is None


def test_latents_carry_the_vaes_scaling_factor_and_captions_are_padded_to_max_length(base) -> None:
    """The VAE/text path of the paper: latents x `scaling_factor` (SD 1.x: 0.18215), captions padded to the
    tokenizer's 77 tokens, as at sampling time."""
    clips = sliding_clips(n_clips=1, n_frames=3)
    scale = base.vae.config.scaling_factor
    try:
        base.vae.register_to_config(scaling_factor=0.18215)
        cache = build_latent_cache(clips, ["a square"], base.vae, base.tokenizer, base.text_encoder, "f")
        with torch.no_grad():
            unscaled = base.vae.encode(
                torch.from_numpy(clips[0].copy()).permute(0, 3, 1, 2).float() / 127.5 - 1.0
            ).latent_dist.mean
    finally:
        base.vae.register_to_config(scaling_factor=scale)
    torch.testing.assert_close(cache.mean[0][0], unscaled * 0.18215, rtol=1e-5, atol=1e-6)
    assert cache.text.shape[1] == base.tokenizer.model_max_length == 77
    from lamp_core.sampling.lamp_sampler import encode_prompts

    torch.testing.assert_close(cache.text[0], encode_prompts(base, ["a square"], torch.device("cpu"))[0])
