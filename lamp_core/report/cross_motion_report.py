"""The cross-motion report: every motion's evaluation -> compare.md, index.html and the bar plot data."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from lamp_core.atomic_write import write_text
from lamp_core.paths import COMPARE_FILE, INDEX_FILE, PLOTS_FILE, evaluation_path
from lamp_core.report.compare_table import compare_table
from lamp_core.report.html_page import render_index_html
from lamp_core.report.motion_outputs import read_evaluation
from lamp_core.report.plot_data import plot_csv


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
