"""Shared-noise initialisation: x_T^i = 0.8 n_i + 0.2 n_b, one generator per video."""

from __future__ import annotations

import pytest
import torch

from lamp_core.errors import LampError
from lamp_core.sampling import mix_shared_noise, shared_noise


def test_mix_is_the_stated_weighted_sum_without_renormalising() -> None:
    frame_noise = torch.randn(2, 4, 5, 6, 8)
    base_noise = torch.randn(2, 4, 1, 6, 8)
    mixed = mix_shared_noise(frame_noise, base_noise, 0.2)
    torch.testing.assert_close(mixed, 0.8 * frame_noise + 0.2 * base_noise)
    # Not renormalised: frame differences carry only the per-frame parts.
    torch.testing.assert_close(
        mixed[:, :, 1] - mixed[:, :, 0], 0.8 * (frame_noise[:, :, 1] - frame_noise[:, :, 0])
    )


def test_shared_noise_draws_base_then_frames_from_each_videos_seed() -> None:
    noise = shared_noise([3, 11], (4, 5, 6, 8), 0.2)
    assert noise.shape == (2, 4, 5, 6, 8)
    for video, seed in enumerate([3, 11]):
        generator = torch.Generator().manual_seed(seed)
        base = torch.randn((4, 1, 6, 8), generator=generator)
        frames = torch.randn((4, 5, 6, 8), generator=generator)
        torch.testing.assert_close(noise[video], 0.8 * frames + 0.2 * base)


def test_statistics_of_the_mix() -> None:
    noise = shared_noise([0], (4, 8, 96, 96), 0.2)[0]  # 8 frames
    # Variance 0.8^2 + 0.2^2 = 0.68; correlation between two frames 0.04 / 0.68.
    assert noise.var().item() == pytest.approx(0.68, rel=0.03)
    a, b = noise[:, 2].flatten(), noise[:, 5].flatten()
    correlation = torch.corrcoef(torch.stack([a, b]))[0, 1].item()
    assert correlation == pytest.approx(0.04 / 0.68, abs=0.015)


def test_a_videos_noise_does_not_depend_on_its_batch_and_seeds_differ() -> None:
    alone = shared_noise([5], (4, 3, 6, 8))
    batched = shared_noise([9, 5], (4, 3, 6, 8))
    assert torch.equal(alone[0], batched[1])
    assert not torch.allclose(batched[0], batched[1])


def test_weight_out_of_range_is_an_error() -> None:
    with pytest.raises(LampError, match=r"in \[0, 1\]"):
        mix_shared_noise(torch.zeros(1), torch.zeros(1), 1.5)
