"""Fidelity to references: PSNR and SSIM of frames (the given first frame, a true continuation), and motion
fidelity (do generated videos move like the motion's reference clips?)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from lamp_core.errors import LampError
from lamp_core.metrics.flow import FlowSettings, MotionSummary, summarize_motion
from lamp_core.metrics.results import (
    MetricResults,
    check_frame,
    check_video,
    check_videos,
    merge_results,
    unavailable,
)

MAX_PSNR_DB = 100.0
"""PSNR of identical frames is infinite; it is reported as this cap so that results stay valid JSON."""

# SSIM constants of Wang et al. (2004): an 11-tap Gaussian window of sigma 1.5, K1 = 0.01, K2 = 0.03.
_SSIM_WINDOW = 11
_SSIM_SIGMA = 1.5
_C1 = (0.01 * 255) ** 2
_C2 = (0.03 * 255) ** 2


def psnr(frames: np.ndarray, references: np.ndarray) -> np.ndarray:
    """PSNR in dB of each frame against its reference, both (N, H, W, 3) uint8 -> (N,), capped at 100 dB."""
    diff = frames.astype(np.float64) - references.astype(np.float64)
    mse = (diff**2).reshape(len(frames), -1).mean(axis=1)
    with np.errstate(divide="ignore"):
        value = 10.0 * np.log10(255.0**2 / mse)
    return np.minimum(value, MAX_PSNR_DB)


def _gaussian_filter_valid(images: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Separable filtering of (N, H, W, C) over H and W, keeping only fully covered ("valid") positions."""
    rows = sliding_window_view(images, len(kernel), axis=1) @ kernel
    return sliding_window_view(rows, len(kernel), axis=2) @ kernel


def ssim(frames: np.ndarray, references: np.ndarray) -> np.ndarray:
    """SSIM of each frame against its reference, both (N, H, W, 3) uint8 with H, W >= 11 -> (N,).

    Gaussian-window SSIM (Wang et al. 2004) per RGB channel over valid window positions, averaged over
    channels and positions. In [-1, 1], 1 for identical frames.
    """
    kernel = cv2.getGaussianKernel(_SSIM_WINDOW, _SSIM_SIGMA).ravel()
    x = frames.astype(np.float64)
    y = references.astype(np.float64)
    mu_x, mu_y = _gaussian_filter_valid(x, kernel), _gaussian_filter_valid(y, kernel)
    var_x = _gaussian_filter_valid(x * x, kernel) - mu_x**2
    var_y = _gaussian_filter_valid(y * y, kernel) - mu_y**2
    cov = _gaussian_filter_valid(x * y, kernel) - mu_x * mu_y
    numerator = (2 * mu_x * mu_y + _C1) * (2 * cov + _C2)
    ssim_map = numerator / ((mu_x**2 + mu_y**2 + _C1) * (var_x + var_y + _C2))
    return ssim_map.reshape(len(frames), -1).mean(axis=1)


@dataclass(frozen=True)
class FrameErrors:
    """Per-frame errors of a video against a reference video, each an array (T,)."""

    psnr: np.ndarray
    """dB, capped at 100; higher is better."""
    ssim: np.ndarray
    """[-1, 1]; higher is better."""
    mae: np.ndarray
    """Mean absolute error / 255, in [0, 1]; lower is better."""


def frame_errors(video: np.ndarray, reference: np.ndarray, source: str = "reference") -> FrameErrors:
    """PSNR, SSIM and MAE of each frame of `video` against the same frame of `reference` (same shape)."""
    video = check_video(video, "video", min_size=_SSIM_WINDOW)
    reference = check_video(reference, source, min_size=_SSIM_WINDOW)
    if video.shape != reference.shape:
        raise LampError(f"{source}: shape {reference.shape} differs from the video's {video.shape}")
    mae = np.abs(video.astype(np.float64) - reference).reshape(len(video), -1).mean(axis=1) / 255.0
    return FrameErrors(psnr=psnr(video, reference), ssim=ssim(video, reference), mae=mae)


def first_frame_fidelity(video: np.ndarray, first_frame: np.ndarray) -> MetricResults:
    """PSNR (dB) and SSIM of the video's frame 1 against the first frame it was given.

    A `first_frame` of another size is resized to the video's (area interpolation), as sampling does.
    """
    video = check_video(video, "video", min_size=_SSIM_WINDOW)
    first_frame = check_frame(first_frame, "first frame")
    height, width = video.shape[1:3]
    if first_frame.shape[:2] != (height, width):
        first_frame = cv2.resize(first_frame, (width, height), interpolation=cv2.INTER_AREA)
    errors = frame_errors(video[:1], first_frame[None], "first frame")
    return {"first_frame_psnr": float(errors.psnr[0]), "first_frame_ssim": float(errors.ssim[0])}


def continuation_error(video: np.ndarray, ground_truth: np.ndarray) -> MetricResults:
    """Mean PSNR, SSIM and MAE of frames 2..T against a ground-truth continuation of the same first frame.

    `ground_truth` must have the video's size and at least its number of frames (extra frames are ignored).
    Frame 1 is left out: it is given, not generated.
    """
    video = check_video(video, "video", min_frames=2, min_size=_SSIM_WINDOW)
    ground_truth = check_video(ground_truth, "ground truth", min_size=_SSIM_WINDOW)
    if len(ground_truth) < len(video):
        raise LampError(f"ground truth: {len(ground_truth)} frames, fewer than the video's {len(video)}")
    errors = frame_errors(video[1:], ground_truth[1 : len(video)], "ground truth")
    return {
        "continuation_psnr": float(errors.psnr.mean()),
        "continuation_ssim": float(errors.ssim.mean()),
        "continuation_mae": float(errors.mae.mean()),
    }


# Motion fidelity: do generated videos move like the motion's reference clips?
#
# Both sets are reduced to their flow statistics (see `MotionSummary`), averaged over the videos of a set
# (each video weighs the same), and compared:
#
# - `direction_emd_deg`: earth mover's distance between the magnitude-weighted direction histograms, on the
#   circle, in degrees: the mean angle by which the generated motion must be turned to match. [0, 180], lower
#   is better.
# - `magnitude_emd`: earth mover's distance between the flow-magnitude histograms (all pixels, static ones
#   included), in px/frame. [0, max_magnitude], lower is better.
# - `direction_cosine`: cosine between the sets' mean flow vectors. [-1, 1], higher is better; unavailable
#   when either set has no coherent direction (mean flow shorter than `min_magnitude`, e.g. an orbit).
# - `motion_fidelity`: (1 - direction_emd_deg / 180) * (1 - magnitude_emd / max_magnitude), in [0, 1], higher
#   is better. When no pixel moves in one set its direction term is 0 (1 when no pixel moves in either).


def circular_emd(p: np.ndarray, q: np.ndarray) -> float:
    """Earth mover's distance between two histograms on a circle, in bins (each summing to 1).

    On a circle the optimal transport cost is sum |D_i - median(D)| with D the cumulative difference.
    """
    cumulative = np.cumsum(p - q)
    return float(np.abs(cumulative - np.median(cumulative)).sum())


def linear_emd(p: np.ndarray, q: np.ndarray) -> float:
    """Earth mover's distance between two histograms on a line, in bins (each summing to 1)."""
    return float(np.abs(np.cumsum(p - q)).sum())


def _pooled_direction(summaries: list[MotionSummary]) -> tuple[np.ndarray, np.ndarray] | None:
    """Mean direction histogram and mean flow vector of the videos that move; None if none does."""
    moving = [s for s in summaries if s.direction_deg is not None]
    if not moving:
        return None
    histogram = np.mean([s.direction_histogram for s in moving], axis=0)
    return histogram / histogram.sum(), np.mean([s.mean_displacement for s in moving], axis=0)


def _check_same_size(generated: list[np.ndarray], references: list[np.ndarray]) -> None:
    size = generated[0].shape[1:3]
    for source, videos in (("generated video", generated), ("reference clip", references)):
        for i, video in enumerate(videos):
            if video.shape[1:3] != size:
                raise LampError(
                    f"{source} {i}: frames are {video.shape[2]}x{video.shape[1]} px but generated video 0's "
                    f"are {size[1]}x{size[0]}; flow speeds are only comparable at one size"
                )


def motion_fidelity(
    generated: Sequence[np.ndarray], references: Sequence[np.ndarray], settings: FlowSettings | None = None
) -> MetricResults:
    """Compare the motion of `generated` videos with `references` (all (T, H, W, 3) uint8 at one size)."""
    settings = settings or FlowSettings()
    generated = check_videos(generated, "generated video", min_frames=2)
    references = check_videos(references, "reference clip", min_frames=2)
    _check_same_size(generated, references)
    gen = [summarize_motion(video, settings) for video in generated]
    ref = [summarize_motion(video, settings) for video in references]

    gen_magnitude = np.mean([s.magnitude_histogram for s in gen], axis=0)
    ref_magnitude = np.mean([s.magnitude_histogram for s in ref], axis=0)
    magnitude_bin_width = settings.max_magnitude / settings.magnitude_bins
    magnitude_emd = linear_emd(gen_magnitude, ref_magnitude) * magnitude_bin_width
    results: MetricResults = {"magnitude_emd": magnitude_emd}

    gen_direction, ref_direction = _pooled_direction(gen), _pooled_direction(ref)
    if gen_direction is None or ref_direction is None:
        pooled = (("generated", gen_direction), ("reference", ref_direction))
        static = [name for name, direction in pooled if direction is None]
        reason = f"no pixel moves in the {' or '.join(static)} videos"
        results = merge_results(results, unavailable(["direction_emd_deg", "direction_cosine"], reason))
        direction_similarity = 1.0 if len(static) == 2 else 0.0
    else:
        direction_emd = circular_emd(gen_direction[0], ref_direction[0]) * 360.0 / settings.direction_bins
        results["direction_emd_deg"] = direction_emd
        direction_similarity = 1.0 - direction_emd / 180.0
        norms = np.linalg.norm(gen_direction[1]), np.linalg.norm(ref_direction[1])
        if min(norms) < settings.min_magnitude:
            reason = f"mean flow shorter than {settings.min_magnitude} px/frame: no coherent direction"
            results = merge_results(results, unavailable(["direction_cosine"], reason))
        else:
            results["direction_cosine"] = float(gen_direction[1] @ ref_direction[1] / (norms[0] * norms[1]))
    magnitude_similarity = 1.0 - magnitude_emd / settings.max_magnitude
    results["motion_fidelity"] = max(0.0, direction_similarity) * max(0.0, magnitude_similarity)
    return results
