"""Temporal smoothness: warping error along the optical flow, and flicker of the overall brightness."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from lamp_core.metrics.flow import FlowSettings, optical_flow
from lamp_core.metrics.results import MetricResults
from lamp_core.metrics.validation import check_video


def warp_previous_frames(video: np.ndarray, backward_flow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Warp each frame t of `video` onto frame t+1 with `backward_flow` (T-1, H, W, 2) from t+1 to t.

    Returns the warped frames (T-1, H, W, 3) float32 and a mask (T-1, H, W) of the pixels whose source
    position lies inside frame t (bilinear sampling, all pairs in one call).
    """
    height, width = backward_flow.shape[1:3]
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    source_x = xs + backward_flow[..., 0]
    source_y = ys + backward_flow[..., 1]
    valid = (source_x >= 0) & (source_x <= width - 1) & (source_y >= 0) & (source_y <= height - 1)
    # grid_sample takes coordinates in [-1, 1]; align_corners=True maps -1 and 1 to the edge pixel centres.
    grid = np.stack(
        [2.0 * source_x / max(width - 1, 1) - 1.0, 2.0 * source_y / max(height - 1, 1) - 1.0], axis=-1
    )
    previous = torch.from_numpy(video[:-1]).permute(0, 3, 1, 2).float()
    warped = F.grid_sample(
        previous, torch.from_numpy(grid), mode="bilinear", padding_mode="border", align_corners=True
    )
    return warped.permute(0, 2, 3, 1).numpy(), valid


def warping_error(video: np.ndarray, settings: FlowSettings | None = None) -> float:
    """Mean |frame t+1 - warp(frame t)| / 255 over pixels whose flow source is inside the frame, in [0, 1].

    0 for a video whose every change is explained by motion; brightness flicker and content that
    appears from nowhere raise it. Lower is better.
    """
    video = check_video(video, min_frames=2)
    warped, valid = warp_previous_frames(video, optical_flow(video, settings, reverse=True))
    error = np.abs(video[1:].astype(np.float32) - warped).mean(axis=-1)
    # Every source outside the frame would leave nothing to compare; border-clamped samples stand in then.
    selected = error[valid] if valid.any() else error
    return float(selected.mean() / 255.0)


def flicker(video: np.ndarray) -> float:
    """Mean |mean brightness of frame t+1 - of frame t| / 255 over consecutive frames, in [0, 1].

    Lower is better; motion inside the frame barely changes the mean, global brightness jumps do.
    """
    video = check_video(video, min_frames=2)
    brightness = video.reshape(video.shape[0], -1).mean(axis=1, dtype=np.float64)
    return float(np.abs(np.diff(brightness)).mean() / 255.0)


def temporal_smoothness(video: np.ndarray, settings: FlowSettings | None = None) -> MetricResults:
    """`warping_error` and `flicker` of `video` (T, H, W, 3) uint8, T >= 2; both lower is better."""
    return {"warping_error": warping_error(video, settings), "flicker": flicker(video)}
