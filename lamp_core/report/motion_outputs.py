"""Writing one motion's evaluation: its metrics file, per-video table, GIFs for the page, and page data.

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
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from lamp_core.atomic_write import replacing, write_text
from lamp_core.data import FrameCache
from lamp_core.errors import LampError, VideoError
from lamp_core.paths import MotionPaths, motion_paths
from lamp_core.report.evaluation import VIDEO_COLUMNS, MotionEvaluation
from lamp_core.report.samples import SampleSet
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
