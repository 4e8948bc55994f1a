"""Evaluation reports: a motion's metrics from its sample folders, and the cross-motion comparison.

`evaluate_motion` measures the tuned and untuned samples of one motion against its reference clips;
`write_motion_outputs` writes its metrics file, per-video table and GIFs; `compare_table`,
`render_index_html` and `plot_csv` turn every motion's evaluation into reports/compare.md,
reports/index.html and the data of the metric bar plots. Nothing here knows about DVC.
"""

from lamp_core.report.compare_table import compare_table
from lamp_core.report.cross_motion_report import write_cross_motion_report
from lamp_core.report.evaluate_settings import EvaluateSettings
from lamp_core.report.evaluation import VIDEO_COLUMNS, MotionEvaluation, evaluate_motion
from lamp_core.report.html_page import render_index_html
from lamp_core.report.metric_catalog import METRICS, MetricInfo, metric_info
from lamp_core.report.motion_outputs import (
    read_evaluation,
    write_motion_outputs,
)
from lamp_core.report.plot_data import PLOT_COLUMNS, plot_csv
from lamp_core.report.samples import SampleSet, SampleVideo, load_motion_samples, load_sample_set

__all__ = [
    "METRICS",
    "PLOT_COLUMNS",
    "VIDEO_COLUMNS",
    "EvaluateSettings",
    "MetricInfo",
    "MotionEvaluation",
    "SampleSet",
    "SampleVideo",
    "compare_table",
    "evaluate_motion",
    "load_motion_samples",
    "load_sample_set",
    "metric_info",
    "plot_csv",
    "read_evaluation",
    "render_index_html",
    "write_cross_motion_report",
    "write_motion_outputs",
]
