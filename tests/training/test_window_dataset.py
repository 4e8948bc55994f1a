"""Training windows: in range, strided, shuffled per epoch, flipped half the time, a function of the step."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from lamp_core.training import WindowSampler


def test_windows_fit_their_clip_and_follow_the_stride() -> None:
    lengths = [9, 12, 30]
    sampler = WindowSampler(lengths, n_frames=4, stride=2, seed=0)
    assert sampler.span == 7
    for step in range(1, 60):
        for window in sampler.batch(step, 3):
            frames = sampler.frame_indices(window)
            assert np.array_equal(np.diff(frames), [2, 2, 2])
            assert frames[0] >= 0 and frames[-1] < lengths[window.clip]
    starts = Counter(w.start for step in range(1, 400) for w in sampler.batch(step, 3) if w.clip == 2)
    assert min(starts) == 0 and max(starts) == 30 - 7  # every start is reachable


def test_every_clip_is_seen_once_per_epoch_in_a_new_order() -> None:
    sampler = WindowSampler([8] * 5, n_frames=2, stride=1, seed=3)
    # batches of 3 cut across epochs of 5 clips
    seen = [w.clip for step in range(1, 11) for w in sampler.batch(step, 3)]
    epochs = [seen[i : i + 5] for i in range(0, 30, 5)]
    assert all(sorted(epoch) == [0, 1, 2, 3, 4] for epoch in epochs)
    assert len({tuple(epoch) for epoch in epochs}) > 1


def test_flips_follow_flip_p() -> None:
    flips = [w.flip for step in range(1, 501) for w in WindowSampler([8] * 4, 2, 1, seed=1).batch(step, 4)]
    assert 0.45 < np.mean(flips) < 0.55
    never = WindowSampler([8] * 4, 2, 1, seed=1, flip_p=0.0)
    assert not any(w.flip for step in range(1, 50) for w in never.batch(step, 4))


def test_windows_are_a_function_of_seed_and_step() -> None:
    a, b = WindowSampler([20] * 6, 4, 1, seed=7), WindowSampler([20] * 6, 4, 1, seed=7)
    assert [a.batch(s, 2) for s in range(1, 20)] == [b.batch(s, 2) for s in range(1, 20)]
    assert a.batch(5, 2) == b.batch(5, 2)  # no hidden state: any step, in any order
    other = WindowSampler([20] * 6, 4, 1, seed=8)
    assert [a.batch(s, 2) for s in range(1, 20)] != [other.batch(s, 2) for s in range(1, 20)]


def test_processes_split_the_global_batch() -> None:
    sampler = WindowSampler([20] * 6, 4, 1, seed=0)
    parts = [sampler.process_batch(3, 2, rank, 3) for rank in range(3)]
    assert [w for part in parts for w in part] == sampler.batch(3, 6)


def test_a_clip_shorter_than_a_window_is_refused() -> None:
    with pytest.raises(ValueError, match="clip 1 has 5 frames; a window needs 7"):
        WindowSampler([10, 5], n_frames=4, stride=2, seed=0)
