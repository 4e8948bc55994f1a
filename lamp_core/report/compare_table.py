"""`reports/compare.md`: one Markdown table, one row per motion, every metric as tuned / untuned."""

from __future__ import annotations

from collections.abc import Sequence

from lamp_core.report.evaluation import MotionEvaluation
from lamp_core.report.metric_catalog import METRICS, REFERENCE_METRICS, MetricInfo


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
