"""What a user sees of a run in the Prefect UI: metrics tables, markdown summaries with links, progress bars.

The content comes from DVC's own outputs: a motion's metrics are the metrics files its stages declare, its
report and videos are the files among its stages' outputs. Artifacts decorate a run: failing to write one
is logged and never fails the run.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import yaml
from prefect.artifacts import (
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)

from flows.pipeline import Stage

VIDEO_SUFFIXES = frozenset({".mp4", ".gif", ".webm", ".mov", ".avi", ".mkv"})
REPORT_SUFFIXES = frozenset({".html", ".md", ".pdf"})
MAX_LINKS = 24

_KEY_CHARS = re.compile(r"[^a-z0-9]+")
# Progress lines a stage may print: "step 120/400 ...", "progress: 3/8", or a tqdm bar "| 120/400 [".
_PROGRESS = (
    re.compile(r"\b(?:step|progress|iter(?:ation)?)\b\D{0,3}?(\d+)\s*/\s*(\d+)", re.IGNORECASE),
    re.compile(r"\|\s*(\d+)/(\d+)\s*\["),
)

log = logging.getLogger(__name__)


def artifact_key(*parts: str) -> str:
    """An artifact key Prefect accepts (lowercase letters, digits, dashes): `lamp-slide-right-metrics`."""
    words = [_KEY_CHARS.sub("-", p.lower()).strip("-") for p in ("lamp", *parts)]
    return "-".join(w for w in words if w)


def _best_effort(what: str, call, *args, **kwargs):
    try:
        return call(*args, **kwargs)
    except Exception as exc:  # an artifact is decoration: never fail a 14-hour tuning run over one
        log.warning("could not write the %s artifact: %s", what, exc)
        return None


def parse_progress(line: str) -> float | None:
    """The percentage a log line reports ("step 120/400", "progress: 3/8", a tqdm bar), or None."""
    for pattern in _PROGRESS:
        if match := pattern.search(line):
            done, total = int(match.group(1)), int(match.group(2))
            return min(100.0, 100.0 * done / total) if total > 0 else None
    return None


class StageProgress:
    """A progress artifact fed by a stage's log lines; created at the first progress line the stage prints."""

    MIN_INTERVAL_S = 2.0

    def __init__(self, key: str, description: str):
        self.key = key
        self.description = description
        self.percent: float | None = None
        self._artifact_id = None
        self._last_update = 0.0

    def observe(self, line: str) -> None:
        """Update the progress from `line` if it reports progress."""
        percent = parse_progress(line)
        if percent is not None:
            self._set(percent)

    def finish(self, succeeded: bool) -> None:
        """Close the bar at 100% when the stage succeeded after reporting progress."""
        if succeeded and self._artifact_id is not None and self.percent != 100.0:
            self._set(100.0, force=True)

    def _set(self, percent: float, force: bool = False) -> None:
        now = time.monotonic()
        if self._artifact_id is None:
            self._artifact_id = _best_effort(
                "progress", create_progress_artifact, percent, key=self.key, description=self.description
            )
        elif percent != self.percent and (
            force or percent == 100.0 or now - self._last_update >= self.MIN_INTERVAL_S
        ):
            _best_effort("progress", update_progress_artifact, self._artifact_id, percent)
        else:
            return
        self.percent, self._last_update = percent, now


def read_metrics(root: Path, paths: Iterable[str]) -> list[dict[str, Any]]:
    """Rows `{file, metric, value}` of the given DVC metrics files (JSON or YAML); nested keys dotted."""
    rows = []
    for path in paths:
        file = root / path
        if not file.is_file():
            rows.append({"file": path, "metric": "(missing)", "value": "not in this workspace"})
            continue
        try:
            data = _parse_metrics(file.suffix.lower(), file.read_text(encoding="utf-8"))
        except (OSError, ValueError, yaml.YAMLError) as exc:
            rows.append({"file": path, "metric": "(unreadable)", "value": str(exc)})
            continue
        rows += [{"file": path, "metric": k, "value": v} for k, v in flatten(data).items()]
    return rows


def _parse_metrics(suffix: str, text: str) -> Any:
    return json.loads(text) if suffix == ".json" else yaml.safe_load(text)


def flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """Nested mappings as one level of dotted keys: {"clip": {"score": 1}} -> {"clip.score": 1}."""
    if not isinstance(data, dict):
        return {prefix or "value": data}
    flat: dict[str, Any] = {}
    for key, value in data.items():
        flat.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    return flat


def output_files(root: Path, stages: Sequence[Stage], suffixes: frozenset[str]) -> list[str]:
    """Files among the stages' outputs (directories searched) with one of `suffixes`, relative to `root`."""
    found: list[str] = []
    for stage in stages:
        for out in stage.outs:
            path = root / out
            candidates = sorted(path.rglob("*")) if path.is_dir() else [path]
            found += [c.relative_to(root).as_posix() for c in candidates if c.suffix.lower() in suffixes]
    return list(dict.fromkeys(found))


def _links(root: Path, files: list[str]) -> str:
    shown = [f"- [{f}]({(root / f).as_uri()})" for f in files[:MAX_LINKS]]
    if len(files) > MAX_LINKS:
        shown.append(f"- ... and {len(files) - MAX_LINKS} more")
    return "\n".join(shown) or "none yet"


def markdown_table(rows: list[dict[str, Any]]) -> str:
    """`rows` as a markdown table, columns in first-seen order."""
    if not rows:
        return "none"
    columns = list(dict.fromkeys(k for row in rows for k in row))
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_cell(row.get(c)) for c in columns) + " |" for row in rows]
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def _round(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds, 1)


def publish_motion(root: Path, motion: str, stages: Sequence[Stage], outcome) -> None:
    """The `<motion>-metrics` table and the `<motion>-summary` markdown (stages, metrics, report, videos)."""
    metrics = read_metrics(root, [m for s in stages for m in s.metrics])
    if metrics:
        _best_effort(
            "metrics",
            create_table_artifact,
            metrics,
            key=artifact_key(motion, "metrics"),
            description=f"metrics of motion {motion}",
        )
    stage_rows = [
        {"stage": s.stage, "status": s.status, "seconds": _round(s.seconds), "error": s.error}
        for s in outcome.stages
    ]
    markdown = "\n\n".join(
        [
            f"# Motion `{motion}`: {outcome.status_line()}",
            f"Project: `{root}`",
            "## Stages\n\n" + markdown_table(stage_rows),
            "## Metrics\n\n" + markdown_table(metrics),
            "## Report\n\n" + _links(root, output_files(root, stages, REPORT_SUFFIXES)),
            "## Videos\n\n" + _links(root, output_files(root, stages, VIDEO_SUFFIXES)),
        ]
    )
    _best_effort(
        "summary",
        create_markdown_artifact,
        markdown,
        key=artifact_key(motion, "summary"),
        description=f"summary of motion {motion}",
    )


def publish_motions_summary(root: Path, summary, joint_stages: Sequence[Stage]) -> None:
    """The `motions-summary` markdown: which motions succeeded, and the cross-motion stages (the report)."""
    rows = [{"motion": m.motion, "outcome": m.status_line()} for m in summary.motions]
    joint = [{"stage": s.stage, "status": s.status, "error": s.error} for s in summary.joint]
    markdown = "\n\n".join(
        [
            f"# Motions: {len(summary.succeeded)} of {len(summary.motions)} succeeded",
            markdown_table(rows),
            "## Cross-motion stages\n\n" + markdown_table(joint),
            "## Report\n\n" + _links(root, output_files(root, joint_stages, REPORT_SUFFIXES)),
        ]
    )
    _best_effort("summary", create_markdown_artifact, markdown, key=artifact_key("motions", "summary"))


def publish_sweep(motion: str, rows: list[dict[str, Any]]) -> None:
    """The `<motion>-sweep` table: one row per experiment, its parameters and metrics."""
    _best_effort(
        "sweep",
        create_table_artifact,
        rows,
        key=artifact_key(motion, "sweep"),
        description=f"parameter sweep of motion {motion}",
    )
