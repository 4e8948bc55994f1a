"""LAMP's shared-noise initialisation: every generated frame starts from its own noise plus a shared part."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from lamp_core.errors import LampError

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
