"""Evaluation reports: a motion's metrics from its sample folders, and the cross-motion comparison.

`evaluate_motion` measures the tuned and untuned samples of one motion against its reference clips;
`write_motion_outputs` writes its metrics file, per-video table and GIFs; `compare_table`,
`render_index_html` and `plot_csv` turn every motion's evaluation into reports/compare.md,
reports/index.html and the data of the metric bar plots. Nothing here knows about DVC.
"""

from lamp_core.report.evaluation import (
    METRICS,
    VIDEO_COLUMNS,
    EvaluateSettings,
    MetricInfo,
    MotionEvaluation,
    evaluate_motion,
    metric_info,
)
from lamp_core.report.html_page import render_index_html
from lamp_core.report.outputs import (
    PLOT_COLUMNS,
    compare_table,
    plot_csv,
    read_evaluation,
    write_cross_motion_report,
    write_motion_outputs,
)
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
