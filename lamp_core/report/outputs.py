"""The report files: one motion's (metrics file, per-video table, GIFs for the page) and the cross-motion
report of every motion (reports/compare.md, reports/index.html, the data of the metric plots).

Layout, under the reports folder:
- `<motion>/metrics.json`: `MotionEvaluation.metrics` (the DVC metrics file);
- `<motion>/videos.csv`: one row per video and variant, and per reference clip (`evaluation.VIDEO_COLUMNS`);
- `<motion>/media/{reference,tuned,untuned}/*.gif`: what the HTML page shows (generated GIFs are copied
  from the samples; the first few reference clips are encoded from the frame cache);
- `evaluations/<motion>.json`: the whole `MotionEvaluation`, which the cross-motion report reads.

Everything is computed before anything is written, and each file is replaced whole (written under a
temporary name, then renamed), so a failure leaves the previous report as it was.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lamp_core.atomic_write import replacing, write_text
from lamp_core.data import FrameCache
from lamp_core.errors import LampError, VideoError
from lamp_core.paths import COMPARE_FILE, INDEX_FILE, PLOTS_FILE, MotionPaths, evaluation_path, motion_paths
from lamp_core.report.evaluation import (
    METRIC_NAMES,
    METRICS,
    REFERENCE_METRICS,
    VIDEO_COLUMNS,
    MetricInfo,
    MotionEvaluation,
)
from lamp_core.report.html_page import render_index_html
from lamp_core.report.samples import VARIANTS, SampleSet
from lamp_core.video import write_video

_SAFE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


def write_motion_outputs(
    evaluation: MotionEvaluation,
    samples: Mapping[str, SampleSet],
    references: FrameCache,
    reports_dir: str | Path,
    *,
    n_reference_gifs: int,
    sample_rate: int = 1,
) -> Path:
    """Write the files above for `evaluation`; returns the motion's report folder.

    `references` are the motion's cached clips; the first `n_reference_gifs` are shown, every
    `sample_rate`-th frame (as training sees them). Fills each row's `media` column.
    """
    paths = motion_paths(evaluation.motion, reports_dir=reports_dir)
    media = _write_media(paths, evaluation, samples, references, n_reference_gifs, sample_rate)
    rows = [{**row, "media": media.get((row["variant"], row["video_id"]))} for row in evaluation.videos]
    completed = MotionEvaluation(
        motion=evaluation.motion,
        prompt=evaluation.prompt,
        criterion=evaluation.criterion,
        metrics=evaluation.metrics,
        videos=rows,
    )
    write_text(paths.videos_table, _csv_text(rows))
    write_text(paths.evaluation, json.dumps(completed.to_dict(), indent=1) + "\n")
    write_text(paths.metrics, json.dumps(evaluation.metrics, indent=2) + "\n")
    return paths.reports


def read_evaluation(path: str | Path) -> MotionEvaluation:
    """Read page data written by `write_motion_outputs`; LampError names the file when it is unusable."""
    path = Path(path)
    try:
        return MotionEvaluation.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise LampError(path, "no evaluation of this motion (run its evaluate stage first)") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise LampError(path, f"not an evaluation written by the evaluate stage ({exc})") from None


def _write_media(
    paths: MotionPaths,
    evaluation: MotionEvaluation,
    samples: Mapping[str, SampleSet],
    references: FrameCache,
    n_reference_gifs: int,
    sample_rate: int,
) -> dict[tuple[str, str], str]:
    """Write all GIFs into a fresh folder, then swap it in for `<folder>/media`; (variant, id) -> path."""
    written: dict[tuple[str, str], str] = {}
    media = paths.media.relative_to(paths.reports).as_posix()  # the page links media relative to its folder
    try:
        with replacing(paths.media, folder=True) as staging:
            for variant, sample_set in samples.items():
                for index, video in enumerate(sample_set.videos):
                    name = video.video_id if _SAFE_NAME.fullmatch(video.video_id) else f"video_{index:03d}"
                    target = staging / variant / f"{name}.gif"
                    if video.gif is not None and video.gif.is_file():
                        target.parent.mkdir(parents=True, exist_ok=True)
                        shutil.copyfile(video.gif, target)
                    else:
                        write_video(video.frames, target, video.fps)
                    written[(variant, video.video_id)] = f"{media}/{variant}/{name}.gif"
            shown = [row["video_id"] for row in evaluation.videos if row["variant"] == "reference"]
            for key in shown[:n_reference_gifs]:
                clip = np.ascontiguousarray(references.clips[key][::sample_rate])
                write_video(clip, staging / "reference" / f"{key}.gif", references.fps)
                written[("reference", key)] = f"{media}/reference/{key}.gif"
    except VideoError as exc:
        raise LampError(exc.path, f"cannot write a GIF for the report ({exc.reason})") from None
    except OSError as exc:
        raise LampError(paths.media, f"cannot write the report's media ({exc})") from None
    return written


def _csv_text(rows: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=VIDEO_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: "" if row.get(key) is None else _cell(row[key]) for key in VIDEO_COLUMNS})
    return buffer.getvalue()


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


# The cross-motion report: every motion's evaluation -> compare.md, index.html and the bar plot data.


def write_cross_motion_report(motions: Sequence[str], reports_dir: str | Path) -> list[Path]:
    """Read `<reports_dir>/evaluations/<motion>.json` of each motion (in this order) and write the three
    reports into `reports_dir`; returns their paths. LampError when a motion has not been evaluated
    (nothing is written then)."""
    reports_dir = Path(reports_dir)
    evaluations = [read_evaluation(evaluation_path(reports_dir, motion)) for motion in motions]
    outputs = {
        COMPARE_FILE: compare_table(evaluations),
        INDEX_FILE: render_index_html(evaluations),
        PLOTS_FILE: plot_csv(evaluations),
    }
    return [write_text(reports_dir / name, text) for name, text in outputs.items()]


# `reports/compare.md`: one Markdown table, one row per motion, every metric as tuned / untuned.


def compare_cell(evaluation: MotionEvaluation, info: MetricInfo) -> str:
    """ "tuned / untuned" for one metric of one motion, with the references' value where they have one."""
    tuned = info.format(evaluation.value("tuned", info.name))
    untuned = info.format(evaluation.value("untuned", info.name))
    cell = f"**{tuned}** / {untuned}"
    if info.name in REFERENCE_METRICS:
        cell += f" (ref {info.format(evaluation.value('reference', info.name))})"
    return cell


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def compare_table(evaluations: Sequence[MotionEvaluation]) -> str:
    """The whole compare.md: a short legend, the table, and why any n/a cell is unavailable."""
    header = ["motion", "videos", *(f"{info.label} {info.arrow}" for info in METRICS)]
    lines = [
        "# Evaluation: tuned vs untuned",
        "",
        "Each cell is **tuned** / untuned: the mean over a motion's evaluation videos (set metrics such",
        "as motion fidelity and diversity: over all of them). The untuned model is the freshly inflated",
        "base with the same prompts, seeds and first frames, so the difference is what tuning bought.",
        "(ref x): the same metric on the motion's reference clips (its training videos).",
        "↑ higher is better, ↓ lower is better, ≈ closer to the references is better.",
        "Metric definitions: docs/METRICS.md; the learned-motion criterion: docs/EVALUATION.md.",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join(["---"] * 2 + ["---:"] * len(METRICS)) + "|",
    ]
    for evaluation in evaluations:
        cells = [f"`{_escape(evaluation.motion)}`", str(evaluation.metrics.get("n_videos", ""))]
        cells += [compare_cell(evaluation, info) for info in METRICS]
        lines.append("| " + " | ".join(cells) + " |")
    notes = _unavailable_notes(evaluations)
    if notes:
        lines += ["", "n/a:", ""] + [f"- {note}" for note in notes]
    criteria = [
        f"- `{_escape(e.motion)}`: {_escape(e.criterion or 'no expected_motion declared')}"
        for e in evaluations
    ]
    lines += ["", "Learned motion, per motion:", "", *criteria]
    return "\n".join(lines) + "\n"


def _unavailable_notes(evaluations: Sequence[MotionEvaluation]) -> list[str]:
    """One line per distinct reason, naming the metrics and the motions (and models) it applies to."""
    metrics: dict[str, list[str]] = {}
    places: dict[str, list[str]] = {}
    for evaluation in evaluations:
        for info in METRICS:
            for group in ("tuned", "untuned"):
                reason = evaluation.reason(group, info.name)
                if reason is None:
                    continue
                for seen, item in ((metrics, info.label), (places, f"{evaluation.motion} {group}")):
                    if item not in seen.setdefault(reason, []):
                        seen[reason].append(item)
    return [
        f"{', '.join(metrics[reason])} ({', '.join(places[reason])}): {_escape(reason)}" for reason in metrics
    ]


# Data of the cross-motion metric bar plots (`reports/motion_metrics.csv`, a DVC plots file).
#
# One row per motion and variant (tuned, untuned), labelled `<motion> · <variant>` for a horizontal bar
# chart, with one column per metric of the catalogue; an unavailable value is an empty cell.

PLOT_COLUMNS = ("label", "motion", "variant", *METRIC_NAMES)


def plot_rows(evaluations: Sequence[MotionEvaluation]) -> list[dict[str, str]]:
    """The rows of the plots file, as strings (numbers with 6 significant digits)."""
    rows = []
    for evaluation in evaluations:
        for variant in VARIANTS:
            row = {
                "label": f"{evaluation.motion} · {variant}",
                "motion": evaluation.motion,
                "variant": variant,
            }
            for name in METRIC_NAMES:
                value = evaluation.value(variant, name)
                row[name] = "" if value is None else f"{value:.6g}"
            rows.append(row)
    return rows


def plot_csv(evaluations: Sequence[MotionEvaluation]) -> str:
    """The plots file's text."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=PLOT_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(plot_rows(evaluations))
    return buffer.getvalue()
