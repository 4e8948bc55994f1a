"""Motion fidelity: do generated videos move like the motion's reference clips?

Both sets are reduced to their flow statistics (see `motion_summary`), averaged over the videos of a set
(each video weighs the same), and compared:

- `direction_emd_deg`: earth mover's distance between the magnitude-weighted direction histograms, on the
  circle, in degrees: the mean angle by which the generated motion must be turned to match. [0, 180], lower
  is better.
- `magnitude_emd`: earth mover's distance between the flow-magnitude histograms (all pixels, static ones
  included), in px/frame. [0, max_magnitude], lower is better.
- `direction_cosine`: cosine between the sets' mean flow vectors. [-1, 1], higher is better; unavailable when
  either set has no coherent direction (mean flow shorter than `min_magnitude`, e.g. an orbit).
- `motion_fidelity`: (1 - direction_emd_deg / 180) * (1 - magnitude_emd / max_magnitude), in [0, 1], higher
  is better. When no pixel moves in one set its direction term is 0 (1 when no pixel moves in either).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from lamp_core.errors import LampError
from lamp_core.metrics.flow import FlowSettings
from lamp_core.metrics.motion_summary import MotionSummary, summarize_motion
from lamp_core.metrics.results import MetricResults, merge_results, unavailable
from lamp_core.metrics.validation import check_videos


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
