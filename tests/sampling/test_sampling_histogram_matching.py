"""Histogram matching of uint8 frames to a reference, per RGB channel."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lamp_core.errors import LampError
from lamp_core.sampling import match_histograms, match_to_first_frame


def _histograms(image: np.ndarray) -> np.ndarray:
    return np.stack([np.bincount(image[..., c].ravel(), minlength=256) for c in range(3)])


def test_a_monotone_relabelling_of_the_reference_gets_its_histogram_exactly() -> None:
    rng = np.random.default_rng(0)
    reference = (rng.integers(0, 64, (24, 32, 3)) * 4).astype(np.uint8)  # 64 levels: 0, 4, ..., 252
    # The reference's pixels moved around, each channel's levels changed by a strictly increasing map
    # (darker, lower contrast, shifted per channel): what colour flicker does to a frame.
    moved = reference.reshape(-1, 3)[rng.permutation(24 * 32)].reshape(24, 32, 3).astype(np.int64) // 4
    frame = np.stack([moved[..., 0] * 2 + 10, moved[..., 1] * 3 + 40, 255 - (63 - moved[..., 2])], -1)
    frame = frame.astype(np.uint8)
    assert not np.array_equal(_histograms(frame), _histograms(reference))

    matched = match_histograms(torch.from_numpy(frame)[None], torch.from_numpy(reference)[None])[0].numpy()
    np.testing.assert_array_equal(_histograms(matched), _histograms(reference))


def test_equal_values_stay_equal_and_order_is_kept() -> None:
    frame = np.zeros((8, 8, 3), np.uint8)
    frame[:, 4:] = 50  # two flat halves
    reference = np.full((8, 8, 3), 200, np.uint8)
    reference[:2] = 20  # a quarter dark
    matched = match_histograms(torch.from_numpy(frame)[None], torch.from_numpy(reference)[None])[0].numpy()
    assert len(np.unique(matched[:, :4].reshape(-1, 3), axis=0)) == 1
    assert len(np.unique(matched[:, 4:].reshape(-1, 3), axis=0)) == 1
    assert (matched[:, 4:] >= matched[:, :4]).all()


def test_match_to_first_frame_keeps_frame_1_and_matches_the_others_per_video() -> None:
    rng = np.random.default_rng(1)
    videos = torch.from_numpy(rng.integers(0, 256, (2, 4, 6, 8, 3), dtype=np.uint8))
    videos[:, 1:] //= 3  # later frames darker
    matched = match_to_first_frame(videos)
    assert torch.equal(matched[:, 0], videos[:, 0])
    for b in range(2):
        for f in range(1, 4):
            expected = match_histograms(videos[b, f][None], videos[b, 0][None])[0]
            assert torch.equal(matched[b, f], expected)
    # Matched frames are close to frame 1's colour statistics again.
    means = matched.float().mean(dim=(2, 3))
    assert torch.allclose(means[:, 1:], means[:, :1].expand(-1, 3, -1), atol=4.0)


def test_reference_of_another_size_matches_shares() -> None:
    frame = torch.arange(64, dtype=torch.uint8).view(8, 8, 1).expand(8, 8, 3).contiguous()
    reference = torch.tensor([0, 0, 255, 255], dtype=torch.uint8).view(2, 2, 1).expand(2, 2, 3).contiguous()
    matched = match_histograms(frame[None], reference[None])[0]
    assert (matched == 0).sum().item() == 3 * 32 and (matched == 255).sum().item() == 3 * 32


def test_wrong_dtype_is_an_error() -> None:
    with pytest.raises(LampError, match="uint8"):
        match_histograms(torch.zeros(1, 4, 4, 3), torch.zeros(1, 4, 4, 3, dtype=torch.uint8))
