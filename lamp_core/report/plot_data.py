"""Data of the cross-motion metric bar plots (`reports/motion_metrics.csv`, a DVC plots file).

One row per motion and variant (tuned, untuned), labelled `<motion> · <variant>` for a horizontal bar
chart, with one column per metric of the catalogue; an unavailable value is an empty cell.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from lamp_core.report.evaluation import MotionEvaluation
from lamp_core.report.metric_catalog import METRIC_NAMES
from lamp_core.report.samples import VARIANTS

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
