"""Videos longer than one window (beyond the paper): windows chained through their boundary frames.

Window k starts from the last frame of window k-1 (as generated: decoded and histogram-matched) and
adds `window_frames - 1` new frames; window k uses seed `seed + k`. Each window sees only its own first
frame, so errors compound with length: measured on the tiny base shipped before 2026-11-22 with a
tuned `orbit` (8-frame windows, 6 videos), the object's colour was kept in 100% of frames 2-8 but 67%
of frames 22-36, and the background drifted in the last window. One longer window (`n_frames` = the
full length) kept them better there, at a cost that grows with the square of the frame count in
temporal attention.
"""

from __future__ import annotations

import math

import numpy as np

from lamp_core.errors import LampError
from lamp_core.model import LAMPUNet, SDBase

from .lamp_sampler import ProgressFn, sample_video
from .sampling_config import MemoryOptions, SamplingConfig


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
