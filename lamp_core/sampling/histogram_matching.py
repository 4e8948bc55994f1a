"""Histogram matching of uint8 RGB frames, per channel (LAMP's last step: it removes colour flicker)."""

from __future__ import annotations

import torch

from lamp_core.errors import LampError

_LEVELS = 256


def match_histograms(frames: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """Map each channel of each frame so that its histogram matches the reference's same channel.

    frames: uint8 (..., height, width, 3); reference: uint8 (..., h, w, 3) whose leading dims broadcast
    against `frames`' (e.g. one reference per video, `(batch, 1, h, w, 3)` for frames `(batch, f, ...)`).
    Each value v goes to the smallest reference value whose cumulative share reaches v's, so equal values
    stay equal (flat areas stay flat) and a frame that is a monotone relabelling of the reference gets
    exactly the reference's histogram. Vectorised over frames and channels; runs on the tensors' device.
    """
    if frames.dtype != torch.uint8 or reference.dtype != torch.uint8:
        raise LampError(f"histogram matching needs uint8 frames, got {frames.dtype} and {reference.dtype}")
    if frames.ndim < 3 or frames.shape[-1] != reference.shape[-1] or reference.ndim != frames.ndim:
        raise LampError(
            f"histogram matching: frames {tuple(frames.shape)} and reference {tuple(reference.shape)} "
            "must both be (..., height, width, channels) with the same channels and number of dims"
        )
    leading = torch.broadcast_shapes(frames.shape[:-3], reference.shape[:-3])
    source = frames.expand(*leading, *frames.shape[-3:])
    target = reference.expand(*leading, *reference.shape[-3:])
    channels = frames.shape[-1]
    # One row per (image, channel): (N * C, pixels).
    source_rows = source.reshape(-1, source.shape[-3] * source.shape[-2], channels).transpose(1, 2)
    target_rows = target.reshape(-1, target.shape[-3] * target.shape[-2], channels).transpose(1, 2)
    source_rows = source_rows.reshape(-1, source_rows.shape[-1]).long()
    target_rows = target_rows.reshape(-1, target_rows.shape[-1]).long()
    source_cumulative = _cumulative_counts(source_rows)
    target_cumulative = _cumulative_counts(target_rows)
    # Compare cumulative shares exactly in integers: cum_s/n_s <= cum_r/n_r iff cum_s*n_r <= cum_r*n_s.
    n_source, n_target = source_rows.shape[1], target_rows.shape[1]
    mapping = torch.searchsorted(target_cumulative * n_source, source_cumulative * n_target)
    mapping = mapping.clamp_(max=_LEVELS - 1)
    matched = mapping.gather(1, source_rows).to(torch.uint8)
    matched = matched.reshape(-1, channels, source.shape[-3] * source.shape[-2]).transpose(1, 2)
    return matched.reshape(source.shape)


def match_to_first_frame(videos: torch.Tensor) -> torch.Tensor:
    """Frames 2..f of each video matched to its frame 1; videos uint8 (batch, frames, height, width, 3)."""
    if videos.ndim != 5:
        raise LampError(f"expected videos (batch, frames, height, width, 3), got {tuple(videos.shape)}")
    first = videos[:, :1]
    return torch.cat([first, match_histograms(videos[:, 1:], first)], dim=1)


def _cumulative_counts(rows: torch.Tensor) -> torch.Tensor:
    """Per row, how many values are <= v for v = 0..255: (rows, 256) int64."""
    counts = torch.zeros(rows.shape[0], _LEVELS, dtype=torch.long, device=rows.device)
    counts.scatter_add_(1, rows, torch.ones_like(rows))
    return counts.cumsum(dim=1)
