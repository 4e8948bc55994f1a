"""The evaluate and report stages end to end on small sample folders: files written, their content, errors."""

import csv
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml
from sample_folders import run_evaluate, write_motion_inputs, write_params

from lamp_core.data import load_frame_cache
from lamp_core.errors import LampError, VideoError
from lamp_core.paths import COMPARE_FILE, INDEX_FILE, PLOTS_FILE, evaluation_path
from lamp_core.report import (
    PLOT_COLUMNS,
    VIDEO_COLUMNS,
    load_motion_samples,
    outputs,
    read_evaluation,
    write_motion_outputs,
)
from stages import report

REPO = Path(__file__).resolve().parents[2]


def test_evaluate_writes_metrics_videos_media_and_page_data(project):
    folder = project / "reports" / "slide_right"
    metrics = json.loads((folder / "metrics.json").read_text())
    assert set(metrics) == {"n_videos", "tuned", "untuned", "gain", "reference", "unavailable"}
    assert metrics["tuned"]["learned_fraction"] == pytest.approx(2 / 3)
    assert metrics["tuned"]["alignment"] is None and "alignment" in metrics["unavailable"]
    with (folder / "videos.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0]) == VIDEO_COLUMNS
    assert [row["variant"] for row in rows].count("tuned") == 3
    assert [row["learned"] for row in rows if row["variant"] == "tuned"] == ["1", "0", "1"]
    shown = [row for row in rows if row["media"]]
    assert len(shown) == 3 + 3 + 2  # every generated video, and evaluate.reference_gifs references
    assert all((folder / row["media"]).stat().st_size > 0 for row in shown)
    assert (folder / "media" / "reference" / "clip_0001.gif").read_bytes().startswith(b"GIF8")
    page_data = read_evaluation(evaluation_path(project / "reports", "slide_right"))
    assert page_data.metrics == metrics
    assert [row["media"] or "" for row in page_data.videos] == [row["media"] for row in rows]


def test_compare_md_has_one_row_per_motion_with_every_metric(project):
    text = (project / "reports" / COMPARE_FILE).read_text()
    table = [line for line in text.splitlines() if line.startswith("| `")]
    assert [line.split("|")[1].strip() for line in table] == ["`slide_right`", "`orbit`"]
    header = next(line for line in text.splitlines() if line.startswith("| motion"))
    assert len(header.split("|")) == len(table[0].split("|"))
    assert "**0.67** / 0.00 (ref 1.00)" in table[0]  # learned motion: tuned / untuned (references)
    assert "CLIP alignment" in header and "no CLIP weights configured" in text


class _Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.images, self.text = [], []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.images.append(dict(attrs)["src"])

    def handle_data(self, data):
        self.text.append(data)


def test_index_html_links_every_video_relatively_and_escapes_prompts(project):
    html = (project / "reports" / INDEX_FILE).read_text()
    page = _Page()
    page.feed(html)
    assert len(page.images) == (3 + 3 + 2) + (2 + 2 + 2)
    for src in page.images:
        assert not re.match(r"^[a-z]+:|^/", src)  # relative: the page opens from disk
        assert (project / "reports" / src).is_file()
    assert "an <b>orbit</b> & co" in "".join(page.text)  # shown as text, not markup
    assert "<b>orbit</b>" not in html
    assert "http" not in html.replace("http-equiv", "")  # nothing fetched from the network


def test_plot_data_has_one_row_per_motion_and_model(project):
    with (project / "reports" / PLOTS_FILE).open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0]) == PLOT_COLUMNS
    assert [(row["motion"], row["variant"]) for row in rows] == [
        ("slide_right", "tuned"),
        ("slide_right", "untuned"),
        ("orbit", "tuned"),
        ("orbit", "untuned"),
    ]
    assert float(rows[0]["learned_fraction"]) == pytest.approx(2 / 3) and rows[0]["alignment"] == ""


def test_the_report_stage_names_a_motion_that_was_not_evaluated(project, tmp_path, capsys):
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["motions"]["wave"] = {"prompt": "a wave"}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    code = report.main(["--params", str(tmp_path / "params.yaml"), "--reports-dir", str(project / "reports")])
    assert code == 1
    assert "evaluations/wave.json: no evaluation of this motion" in capsys.readouterr().err


def test_the_evaluate_stage_reports_missing_samples_and_keeps_earlier_results(project, tmp_path, capsys):
    root = tmp_path
    write_params(root)
    write_motion_inputs(root, "slide_right", n_videos=2)
    assert run_evaluate(root, "slide_right") == 0
    metrics = (root / "reports" / "slide_right" / "metrics.json").read_text()
    (root / "data" / "samples" / "slide_right" / "untuned" / "index.csv").unlink()
    assert run_evaluate(root, "slide_right") == 1
    assert "untuned/index.csv: no index.csv (run the generate stage first)" in capsys.readouterr().err
    assert (root / "reports" / "slide_right" / "metrics.json").read_text() == metrics


def test_a_failed_gif_leaves_the_previous_report_untouched(project, monkeypatch):
    def failing_write(frames, path, fps):
        raise VideoError(path, "disk full", "encode_failed")

    folder = project / "reports" / "orbit"
    before = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    evaluation = read_evaluation(evaluation_path(project / "reports", "orbit"))
    samples = load_motion_samples(project / "data" / "samples" / "orbit")
    references = load_frame_cache(project / "data" / "frames" / "orbit")
    monkeypatch.setattr(outputs, "write_video", failing_write)
    with pytest.raises(LampError, match="disk full"):
        write_motion_outputs(evaluation, samples, references, project / "reports", n_reference_gifs=1)
    assert {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()} == before


def test_dvc_yaml_declares_the_files_the_stages_write():
    dvc = yaml.safe_load((REPO / "dvc.yaml").read_text())
    evaluate_stage = dvc["stages"]["evaluate"]["do"]
    assert evaluate_stage["cmd"] == "python -m stages.evaluate ${key}"
    assert evaluate_stage["metrics"] == [{"reports/${key}/metrics.json": {"cache": False}}]
    assert str(evaluation_path("reports", "${key}")) in evaluate_stage["outs"]
    report_stage = dvc["stages"]["report"]
    assert "reports/evaluations" in report_stage["deps"]
    outs = [next(iter(entry)) for entry in report_stage["outs"] + report_stage["plots"]]
    assert outs == [f"reports/{name}" for name in (COMPARE_FILE, INDEX_FILE, PLOTS_FILE)]
    specs = [spec for plot in dvc["plots"] for spec in plot.values()]
    bar_plots = [spec for spec in specs if f"reports/{PLOTS_FILE}" in spec["y"]]
    assert bar_plots, "no metric-bar plot of the report's data is declared"
    for spec in bar_plots:
        assert spec["x"] in PLOT_COLUMNS and spec["y"] == {f"reports/{PLOTS_FILE}": "label"}
