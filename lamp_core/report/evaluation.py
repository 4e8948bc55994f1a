"""A motion's evaluation: the metrics of its tuned and untuned samples, side by side with its references.

Per video (see docs/METRICS.md for each metric): flow statistics and the turn rate, whether it moved the
learned way (`expected_motion`), temporal smoothness, fidelity of frame 1 to the given first frame, the
error against the renderer's true continuation when the first frame was rendered, and the CLIP scores.
Per variant: the mean of each per-video metric, plus the set metrics (`motion_fidelity` against the
reference clips, CLIP `diversity`, `learned_fraction`). `gain` is tuned minus untuned, for every metric.
The reference clips (the training data) are measured the same way, as the target the samples aim at.
Every number comes from lamp_core.metrics; this module picks them per video and lays them out, with the
catalog of reported metrics (`METRICS`) and the `evaluate:` settings.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from lamp_core.data import FrameCache
from lamp_core.errors import LampError, MetricUnavailable
from lamp_core.metrics import (
    ClipScorer,
    MetricResults,
    MetricsSettings,
    clip_report,
    continuation_error,
    first_frame_fidelity,
    merge_results,
    motion_fidelity,
    temporal_smoothness,
    unavailable,
)
from lamp_core.metrics.expected_motion import MotionCriterion, expected_motion_from_params
from lamp_core.metrics.flow import measure_motion
from lamp_core.metrics.results import UNAVAILABLE_KEY
from lamp_core.params import MotionConfig, read_settings
from lamp_core.report.samples import VARIANTS, SampleSet, SampleVideo
from lamp_core.synthetic import render_clip

# The metrics a motion's evaluation reports, in report order, with how to read them.
#
# Each metric of docs/METRICS.md that makes sense per motion is listed once; reports show them in this order.
# `better` is "higher", "lower", or "reference" (neither is better in itself: closer to the motion's
# reference clips is better).


@dataclass(frozen=True)
class MetricInfo:
    """How to label, read and print one metric."""

    name: str
    label: str
    better: str
    decimals: int
    unit: str = ""

    @property
    def arrow(self) -> str:
        """↑ (higher is better), ↓ (lower is better) or ≈ (closer to the references is better)."""
        return {"higher": "↑", "lower": "↓"}.get(self.better, "≈")

    def format(self, value: float | None) -> str:
        """The value with this metric's precision, or "n/a" when it is unavailable."""
        if value is None:
            return "n/a"
        text = f"{value:.{self.decimals}f}"
        return text[1:] if text.startswith("-") and not text.strip("-0.") else text  # no "-0.0"


METRICS: tuple[MetricInfo, ...] = (
    MetricInfo("learned_fraction", "learned motion", "higher", 2),
    MetricInfo("motion_fidelity", "motion fidelity", "higher", 3),
    MetricInfo("direction_emd_deg", "direction EMD", "lower", 1, "°"),
    MetricInfo("magnitude_emd", "speed EMD", "lower", 3, "px/frame"),
    MetricInfo("direction_cosine", "direction cosine", "higher", 2),
    MetricInfo("dynamic_degree", "dynamic degree", "reference", 3),
    MetricInfo("flow_magnitude", "flow magnitude", "reference", 2, "px/frame"),
    MetricInfo("motion_speed", "speed", "reference", 2, "px/frame"),
    MetricInfo("motion_coherence", "coherence", "reference", 2),
    MetricInfo("turn_rate_deg", "turn rate", "reference", 1, "°/frame"),
    MetricInfo("warping_error", "warping error", "lower", 4),
    MetricInfo("flicker", "flicker", "lower", 4),
    MetricInfo("first_frame_psnr", "first-frame PSNR", "higher", 1, "dB"),
    MetricInfo("first_frame_ssim", "first-frame SSIM", "higher", 3),
    MetricInfo("continuation_psnr", "continuation PSNR", "higher", 1, "dB"),
    MetricInfo("continuation_ssim", "continuation SSIM", "higher", 3),
    MetricInfo("continuation_mae", "continuation MAE", "lower", 4),
    MetricInfo("alignment", "CLIP alignment", "higher", 2),
    MetricInfo("consistency", "CLIP consistency", "higher", 2),
    MetricInfo("diversity", "CLIP diversity", "lower", 2),
)

METRIC_NAMES: tuple[str, ...] = tuple(info.name for info in METRICS)

REFERENCE_METRICS: tuple[str, ...] = (
    "learned_fraction",
    "dynamic_degree",
    "flow_magnitude",
    "motion_speed",
    "motion_coherence",
    "turn_rate_deg",
    "warping_error",
    "flicker",
)
"""The metrics also measured on the motion's reference clips (the training data), as the target."""


def metric_info(name: str) -> MetricInfo:
    """The catalogue entry of metric `name`."""
    for info in METRICS:
        if info.name == name:
            return info
    raise KeyError(f"no metric named {name!r} in the report catalogue")


GROUPS = (*VARIANTS, "gain", "reference")

REFERENCE_ACCEPT_WARNING = 0.9
"""A criterion that accepts fewer than this fraction of its motion's own reference clips is warned about."""

logger = logging.getLogger(__name__)

VIDEO_COLUMNS = (
    "variant",
    "video_id",
    "prompt",
    "seed",
    "first_frame_source",
    "learned",
    "motion_dx",
    "motion_dy",
    "motion_direction_deg",
    "motion_speed",
    "flow_magnitude",
    "dynamic_degree",
    "motion_coherence",
    "turn_rate_deg",
    "clockwise_fraction",
    "warping_error",
    "flicker",
    "first_frame_psnr",
    "first_frame_ssim",
    "continuation_psnr",
    "continuation_ssim",
    "continuation_mae",
    "alignment",
    "consistency",
    "media",
)
"""Columns of a motion's per-video table (`videos.csv`): one row per generated video and variant, and one
per reference clip (variant `reference`). `learned` is 1 or 0 (empty when the motion declares no expected
motion); `media` is the video's GIF relative to the motion's report folder (empty if none was written)."""


@dataclass(frozen=True)
class MotionEvaluation:
    """Everything measured about one motion: `metrics` (the DVC metrics file) and the per-video `videos`."""

    motion: str
    prompt: str
    criterion: str | None
    """The learned-motion criterion in words; None when the motion declares no expected motion."""
    metrics: dict[str, Any]
    """`n_videos`; per group (tuned, untuned, gain, reference) metric -> float or None; `unavailable`."""
    videos: list[dict[str, Any]] = field(default_factory=list)
    """One dict per row of `videos.csv` (keys: VIDEO_COLUMNS)."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; `from_dict` inverts it."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MotionEvaluation:
        """Rebuild from `to_dict` output; KeyError/TypeError on a malformed dict (callers name the file)."""
        return cls(
            motion=str(data["motion"]),
            prompt=str(data["prompt"]),
            criterion=data["criterion"],
            metrics=dict(data["metrics"]),
            videos=[dict(row) for row in data["videos"]],
        )

    def value(self, group: str, metric: str) -> float | None:
        """The value of `metric` for `group` (tuned, untuned, gain or reference), None if unavailable."""
        return self.metrics.get(group, {}).get(metric)

    def reason(self, group: str, metric: str) -> str | None:
        """Why `metric` of `group` is unavailable (None if it is available); a gain is unavailable when
        the tuned or the untuned value is."""
        if metric not in self.metrics.get(group, {}) or self.value(group, metric) is not None:
            return None
        reasons = self.metrics.get(UNAVAILABLE_KEY, {})
        if group == "gain":
            return next(filter(None, (self.reason(variant, metric) for variant in VARIANTS)), None)
        shared = reasons.get(metric) if group in VARIANTS else None
        return reasons.get(f"{group}.{metric}", shared)


def evaluate_motion(
    motion: MotionConfig,
    samples: Mapping[str, SampleSet],
    references: FrameCache,
    settings: MetricsSettings,
    scorer: ClipScorer | MetricUnavailable,
    expected_motion: Any = None,
) -> MotionEvaluation:
    """Evaluate the `tuned` and `untuned` sample sets of `motion` against its reference clips.

    `expected_motion` is the motion's `evaluation.<name>.expected_motion` entry of params.yaml (None: no
    learned fraction is counted).

    Reference clips are taken every `motion.sample_rate` frames, as training sees them, so that speeds in
    px/frame compare with the generated videos'. Raises LampError when the inputs do not fit together.
    """
    criterion = expected_motion_from_params(expected_motion, motion.name)
    clips = _reference_clips(motion, references, samples)
    groups: dict[str, MetricResults] = {}
    rows: list[dict[str, Any]] = []
    for variant in VARIANTS:
        sample_set = samples[variant]
        try:
            per_video = [_video_metrics(video, criterion, settings, scorer) for video in sample_set.videos]
            set_metrics = _set_metrics(sample_set, clips, settings, scorer)
        except LampError as exc:
            raise LampError(sample_set.folder, str(exc)) from None
        groups[variant] = merge_results(_means(per_video), set_metrics)
        rows += [
            _row(variant, video, values) for video, values in zip(sample_set.videos, per_video, strict=True)
        ]
    reference_rows = [_reference_metrics(clip, criterion, settings) for clip in clips.values()]
    if criterion is not None:
        _warn_if_references_fail(motion.name, criterion, reference_rows)
    groups["reference"] = _means(reference_rows, REFERENCE_METRICS)
    rows += [
        _row("reference", None, values, clip_id=key, caption=references.captions.get(key, ""))
        for key, values in zip(clips, reference_rows, strict=True)
    ]
    groups["gain"] = _gain(groups["tuned"], groups["untuned"])
    return MotionEvaluation(
        motion=motion.name,
        prompt=motion.prompt,
        criterion=None if criterion is None else criterion.describe(),
        metrics=_metrics_file(groups, n_videos=len(samples["tuned"].videos), n_clips=len(clips)),
        videos=rows,
    )


def _reference_clips(
    motion: MotionConfig, references: FrameCache, samples: Mapping[str, SampleSet]
) -> dict[str, np.ndarray]:
    size = samples["tuned"].videos[0].frames.shape[1:3]
    if (references.height, references.width) != size:
        raise LampError(
            samples["tuned"].folder,
            f"videos are {size[1]}x{size[0]} but the reference clips are {references.width}x"
            f"{references.height}; motion speeds only compare at one size (re-run the generate stage)",
        )
    clips = {key: clip[:: motion.sample_rate] for key, clip in references.clips.items()}
    return {key: clip for key, clip in clips.items() if len(clip) >= 2}


def _video_metrics(
    video: SampleVideo,
    criterion: MotionCriterion | None,
    settings: MetricsSettings,
    scorer: ClipScorer | MetricUnavailable,
) -> MetricResults:
    frames = video.frames
    parts = [_motion_metrics(frames, criterion, settings), temporal_smoothness(frames, settings.flow)]
    if video.first_frame is None:
        parts.append(unavailable(["first_frame_psnr", "first_frame_ssim"], "index.csv names no first frame"))
    else:
        parts.append(first_frame_fidelity(frames, video.first_frame))
    if video.scene is None:
        reason = f"first frame is {video.first_frame_source or 'not rendered'}: no true continuation"
        names = ["continuation_psnr", "continuation_ssim", "continuation_mae"]
        parts.append(unavailable(names, reason))
    else:
        height, width = frames.shape[1:3]
        parts.append(continuation_error(frames, render_clip(video.scene, len(frames), width, height)))
    clip = clip_report([frames], [video.prompt], scorer)
    parts.append({key: value for key, value in clip.items() if key != "diversity"})
    results = merge_results(*parts)
    results.get(UNAVAILABLE_KEY, {}).pop("diversity", None)  # a set metric, measured per variant
    return results


def _motion_metrics(
    frames: np.ndarray, criterion: MotionCriterion | None, settings: MetricsSettings
) -> MetricResults:
    measured = measure_motion(frames, settings.flow)
    values = measured.as_metrics()
    results: MetricResults = {key: values[key] for key in VIDEO_COLUMNS if key in values}
    results["dynamic_degree"] = values["moving_fraction"]
    if measured.turn_rate_deg is None:
        reason = "fewer than two frame pairs move in a clear direction: no turn to measure"
        results = merge_results(results, unavailable(["turn_rate_deg", "clockwise_fraction"], reason))
    if criterion is None:
        reason = "the motion declares no expected_motion in params.yaml"
        return merge_results(results, unavailable(["learned"], reason))
    results["learned"] = 1.0 if criterion.accepts(measured) else 0.0
    return results


def _warn_if_references_fail(
    motion: str, criterion: MotionCriterion, reference_rows: Sequence[MetricResults]
) -> None:
    """Log a warning when `criterion` accepts fewer than REFERENCE_ACCEPT_WARNING of the reference clips."""
    verdicts = [row["learned"] for row in reference_rows if row.get("learned") is not None]
    if not verdicts:
        return
    rate = float(np.mean(verdicts))
    if rate < REFERENCE_ACCEPT_WARNING:
        logger.warning(
            "%s: the learned-motion criterion accepts only %d of %d (%.0f%%) of the motion's own reference "
            "clips, so its learned_fraction says little; check params.yaml: evaluation.%s.expected_motion. "
            "Criterion: %s",
            motion,
            round(rate * len(verdicts)),
            len(verdicts),
            100 * rate,
            motion,
            criterion.describe(),
        )


def _reference_metrics(
    clip: np.ndarray, criterion: MotionCriterion | None, settings: MetricsSettings
) -> MetricResults:
    return merge_results(_motion_metrics(clip, criterion, settings), temporal_smoothness(clip, settings.flow))


def _set_metrics(
    sample_set: SampleSet,
    clips: Mapping[str, np.ndarray],
    settings: MetricsSettings,
    scorer: ClipScorer | MetricUnavailable,
) -> MetricResults:
    videos = [video.frames for video in sample_set.videos]
    fidelity = motion_fidelity(videos, list(clips.values()), settings.flow)
    if isinstance(scorer, MetricUnavailable):
        diversity = unavailable(["diversity"], scorer.reason)
    elif len(videos) < 2:
        diversity = unavailable(["diversity"], "diversity needs at least 2 videos")
    else:
        diversity = {"diversity": scorer.diversity(videos)}
    return merge_results(fidelity, diversity)


def _means(per_video: Sequence[MetricResults], names: Sequence[str] = METRIC_NAMES) -> MetricResults:
    """Mean of each metric over the videos that have it; `learned` becomes `learned_fraction`."""
    results: MetricResults = {}
    reasons: dict[str, str] = {}
    for name in names:
        source = "learned" if name == "learned_fraction" else name
        values = [row[source] for row in per_video if row.get(source) is not None]
        if values:
            results[name] = float(np.mean(values))
        elif any(source in row for row in per_video):
            results[name] = None
            first = next((row for row in per_video if source in row.get(UNAVAILABLE_KEY, {})), {})
            reasons[name] = first.get(UNAVAILABLE_KEY, {}).get(source, "unavailable for every video")
    return merge_results(results, {UNAVAILABLE_KEY: reasons} if reasons else {})


def _gain(tuned: MetricResults, untuned: MetricResults) -> MetricResults:
    """Tuned minus untuned for every metric either has; None (explained by their reasons) if one lacks it."""
    names = [name for name in METRIC_NAMES if name in tuned or name in untuned]
    values = {name: (tuned.get(name), untuned.get(name)) for name in names}
    return {name: None if a is None or b is None else a - b for name, (a, b) in values.items()}


def _metrics_file(groups: Mapping[str, MetricResults], n_videos: int, n_clips: int) -> dict[str, Any]:
    """The DVC metrics file: counts, one mapping per group in METRIC_NAMES order, and the reasons.

    A reason shared by the tuned and the untuned model (the usual case: no CLIP weights) is stored once
    under the metric's name, any other as `<group>.<metric>`. Gains carry no reason of their own.
    """
    metrics: dict[str, Any] = {"n_videos": n_videos}
    for group in GROUPS:
        metrics[group] = {name: groups[group][name] for name in METRIC_NAMES if name in groups[group]}
    metrics["reference"] = {"n_clips": n_clips, **metrics["reference"]}
    by_metric: dict[str, dict[str, str]] = {}
    for group in ("tuned", "untuned", "reference"):
        for name, reason in groups[group].get(UNAVAILABLE_KEY, {}).items():
            by_metric.setdefault(name, {})[group] = reason
    reasons: dict[str, str] = {}
    for name, per_group in by_metric.items():
        shared = {per_group.get(variant) for variant in VARIANTS}
        if len(shared) == 1 and None not in shared:
            reasons[name] = per_group.pop("tuned")
            per_group.pop("untuned")
        reasons.update({f"{group}.{name}": reason for group, reason in per_group.items()})
    metrics[UNAVAILABLE_KEY] = reasons
    return metrics


def _row(
    variant: str,
    video: SampleVideo | None,
    values: MetricResults,
    clip_id: str = "",
    caption: str = "",
) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(VIDEO_COLUMNS)
    row.update({key: value for key, value in values.items() if key in row})
    row["variant"] = variant
    if video is None:
        row.update(video_id=clip_id, prompt=caption, seed=None, first_frame_source=None)
    else:
        row.update(
            video_id=video.video_id,
            prompt=video.prompt,
            seed=video.seed,
            first_frame_source=video.first_frame_source,
        )
    row["media"] = None
    return row


# The `evaluate:` section of params.yaml: how each motion's evaluation is presented.


@dataclass(frozen=True)
class EvaluateSettings:
    """Settings of the evaluate stage, from `params["evaluate"]`."""

    reference_gifs: int
    """How many of a motion's reference clips the HTML report shows (written as GIFs)."""

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> EvaluateSettings:
        """Read `evaluate:` with clear errors for unknown keys and bad values."""
        return read_settings(cls, params.get("evaluate"), "evaluate")

    def __post_init__(self) -> None:
        if self.reference_gifs < 0:
            raise LampError(f"reference_gifs must be a whole number >= 0, got {self.reference_gifs!r}")
