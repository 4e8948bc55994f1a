"""Which training windows each step sees: random clip order, window start and horizontal flip, seeded.

A window is `n_frames` frames of one clip, `stride` apart, from a random start. Clips are visited in a
fresh random order every epoch (each clip once per epoch: the original LAMP code did not shuffle), and
every window is mirrored with probability `flip_p`.

Everything is a pure function of (seed, step): a resumed run sees exactly the windows the interrupted
one would have, with no sampler state to save, and every process of a multi-process run computes the
same global batch and takes its own slice of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# Domain tags keep the random streams of different purposes independent under one seed.
_EPOCH_ORDER, _WINDOW_DRAWS = 1, 2


@dataclass(frozen=True)
class Window:
    """One training window: clip index, first frame, and whether it is mirrored left-right."""

    clip: int
    start: int
    flip: bool


class WindowSampler:
    """The global batch of windows of every training step, deterministic given the seed."""

    def __init__(
        self,
        clip_lengths: Sequence[int],
        n_frames: int,
        stride: int,
        seed: int,
        flip_p: float = 0.5,
    ) -> None:
        if n_frames < 2 or stride < 1:
            raise ValueError(f"a window needs n_frames >= 2 and stride >= 1, got {n_frames}, {stride}")
        self.clip_lengths = tuple(int(n) for n in clip_lengths)
        self.n_frames = n_frames
        self.stride = stride
        self.seed = seed
        self.flip_p = flip_p
        if not self.clip_lengths:
            raise ValueError("no clips to sample windows from")
        short = [i for i, n in enumerate(self.clip_lengths) if n < self.span]
        if short:
            raise ValueError(
                f"clip {short[0]} has {self.clip_lengths[short[0]]} frames; a window needs {self.span} "
                f"({n_frames} frames, stride {stride})"
            )

    @property
    def span(self) -> int:
        """Frames of a clip one window covers, first to last."""
        return (self.n_frames - 1) * self.stride + 1

    def frame_indices(self, window: Window) -> np.ndarray:
        """The clip frame indices of `window`, in order."""
        return window.start + self.stride * np.arange(self.n_frames)

    def batch(self, step: int, size: int) -> list[Window]:
        """The `size` windows of training step `step` (1-based), for all processes together."""
        n_clips = len(self.clip_lengths)
        first = (step - 1) * size
        positions = np.arange(first, first + size)
        epochs = positions // n_clips
        clips = np.empty(size, dtype=np.int64)
        for epoch in np.unique(epochs):
            order = np.random.default_rng([self.seed, _EPOCH_ORDER, int(epoch)]).permutation(n_clips)
            chosen = epochs == epoch
            clips[chosen] = order[positions[chosen] % n_clips]
        draws = np.random.default_rng([self.seed, _WINDOW_DRAWS, step])
        room = np.array([self.clip_lengths[c] - self.span + 1 for c in clips])
        starts = np.floor(draws.random(size) * room).astype(np.int64)
        flips = draws.random(size) < self.flip_p
        return [Window(int(c), int(s), bool(f)) for c, s, f in zip(clips, starts, flips, strict=True)]

    def process_batch(
        self, step: int, batch_size: int, process_index: int, num_processes: int
    ) -> list[Window]:
        """This process's `batch_size` windows of step `step` (its slice of the global batch)."""
        windows = self.batch(step, batch_size * num_processes)
        return windows[process_index * batch_size : (process_index + 1) * batch_size]
