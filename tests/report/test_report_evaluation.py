"""A motion's evaluation from sample folders: per-variant metrics, gains, references, reasons for n/a."""

import dataclasses
import logging

import open_clip
import pytest
import torch
from pipeline_settings import from_params
from sample_folders import write_motion_inputs, write_params

from lamp_core.data import load_frame_cache
from lamp_core.errors import LampError, MetricUnavailable
from lamp_core.metrics import ClipScorer, MetricsSettings
from lamp_core.params import evaluation_entry, load_params, motion_config
from lamp_core.report import VIDEO_COLUMNS, MotionEvaluation, evaluate_motion, load_motion_samples

NO_CLIP = MetricUnavailable("no CLIP weights configured (test)")


@pytest.fixture(scope="module")
def tiny_scorer():
    """A randomly initialised tiny open_clip model: checks the plumbing only, never a product path."""
    torch.manual_seed(0)
    config = {
        "embed_dim": 16,
        "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "patch_size": 8, "head_width": 16},
        "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
    }
    model = open_clip.CLIP(**config).eval()
    preprocess = open_clip.image_transform(32, is_train=False)
    return ClipScorer.from_model(model, preprocess, open_clip.SimpleTokenizer(context_length=16))


def _evaluate(root, motion, scorer=NO_CLIP, **evaluation_changes):
    params = load_params(root / "params.yaml")
    params["evaluation"][motion].update(evaluation_changes)
    samples = load_motion_samples(root / "data" / "samples" / motion)
    references = load_frame_cache(root / "data" / "frames" / motion)
    config = motion_config(params, motion)
    expected = evaluation_entry(params, motion).get("expected_motion")
    settings = MetricsSettings.from_params(params)
    return evaluate_motion(config, samples, references, settings, scorer, expected_motion=expected)


@pytest.fixture(scope="module")
def slide_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("slide")
    write_params(root)
    write_motion_inputs(root, "slide_right", n_videos=4, learned=[True, True, True, False])
    return root


def test_learned_fraction_counts_the_videos_that_move_the_learned_way(slide_root):
    evaluation = _evaluate(slide_root, "slide_right")
    assert evaluation.value("tuned", "learned_fraction") == 0.75
    assert evaluation.value("untuned", "learned_fraction") == 0.0
    assert evaluation.value("gain", "learned_fraction") == 0.75
    assert evaluation.value("reference", "learned_fraction") == 1.0
    assert evaluation.metrics["n_videos"] == 4 and evaluation.metrics["reference"]["n_clips"] == 4
    assert "0° (right)" in evaluation.criterion


def test_each_variant_is_measured_against_the_truth_and_the_references(slide_root):
    evaluation = _evaluate(slide_root, "slide_right")
    tuned = [row for row in evaluation.videos if row["variant"] == "tuned"]
    assert [row["continuation_psnr"] for row in tuned[:3]] == [100.0, 100.0, 100.0]  # true continuations
    assert tuned[3]["continuation_psnr"] < 30.0  # the still one
    assert all(row["first_frame_psnr"] == 100.0 for row in evaluation.videos if row["variant"] != "reference")
    assert evaluation.value("tuned", "motion_fidelity") > 0.9
    assert evaluation.value("untuned", "motion_fidelity") == 0.0
    assert evaluation.value("untuned", "motion_speed") == 0.0
    speed = evaluation.value("tuned", "motion_speed")
    assert evaluation.value("gain", "motion_speed") == pytest.approx(speed)
    assert evaluation.value("reference", "motion_speed") > 0.8
    assert [row["variant"] for row in evaluation.videos].count("reference") == 4
    assert all(set(row) == set(VIDEO_COLUMNS) for row in evaluation.videos)


def test_unavailable_metrics_are_null_with_one_reason(slide_root):
    evaluation = _evaluate(slide_root, "slide_right")
    for group in ("tuned", "untuned", "gain"):
        assert evaluation.value(group, "alignment") is None
        assert evaluation.reason(group, "alignment") == NO_CLIP.reason
    reasons = evaluation.metrics["unavailable"]
    assert reasons["diversity"] == NO_CLIP.reason and "tuned.diversity" not in reasons
    # nothing moves in the untuned videos: no direction to compare, for that model only
    assert evaluation.value("tuned", "direction_emd_deg") is not None
    assert reasons["untuned.direction_emd_deg"] == "no pixel moves in the generated videos"
    assert evaluation.reason("tuned", "direction_emd_deg") is None
    assert "turn" in evaluation.reason("untuned", "turn_rate_deg")


def test_clip_metrics_are_reported_per_video_and_per_variant(slide_root, tiny_scorer):
    evaluation = _evaluate(slide_root, "slide_right", scorer=tiny_scorer)
    rows = [row for row in evaluation.videos if row["variant"] == "tuned"]
    assert all(-100.0 <= row["alignment"] <= 100.0 for row in rows)
    mean = sum(row["alignment"] for row in rows) / len(rows)
    assert evaluation.value("tuned", "alignment") == pytest.approx(mean)
    assert evaluation.value("untuned", "consistency") == pytest.approx(100.0, abs=1e-3)  # still videos
    diversity = evaluation.value("tuned", "diversity")
    assert evaluation.value("gain", "diversity") == pytest.approx(
        diversity - evaluation.value("untuned", "diversity")
    )
    assert "alignment" not in evaluation.metrics["unavailable"]


def test_an_orbit_is_judged_by_its_rotation(tmp_path):
    write_params(tmp_path)
    write_motion_inputs(tmp_path, "orbit", n_videos=3, learned=[True, False, True])
    evaluation = _evaluate(tmp_path, "orbit")
    assert evaluation.value("tuned", "learned_fraction") == pytest.approx(2 / 3)
    assert evaluation.value("reference", "learned_fraction") == 1.0
    assert evaluation.value("tuned", "turn_rate_deg") > 10.0
    assert "clockwise" in evaluation.criterion


def test_a_motion_without_expected_motion_reports_no_learned_fraction(slide_root):
    evaluation = _evaluate(slide_root, "slide_right", expected_motion=None)
    assert evaluation.criterion is None
    assert evaluation.value("tuned", "learned_fraction") is None
    assert "expected_motion" in evaluation.reason("tuned", "learned_fraction")
    assert all(row["learned"] is None for row in evaluation.videos)


def test_references_of_another_size_are_refused(slide_root):
    params = load_params(slide_root / "params.yaml")
    samples = load_motion_samples(slide_root / "data" / "samples" / "slide_right")
    references = load_frame_cache(slide_root / "data" / "frames" / "slide_right")
    smaller = dataclasses.replace(references, width=24)
    with pytest.raises(LampError, match="reference clips are 24x32"):
        evaluate_motion(
            motion_config(params, "slide_right"),
            samples,
            smaller,
            from_params(MetricsSettings, "metrics"),
            NO_CLIP,
        )


def test_an_evaluation_survives_a_round_trip_through_a_dict(slide_root):
    evaluation = _evaluate(slide_root, "slide_right")
    assert MotionEvaluation.from_dict(evaluation.to_dict()) == evaluation


def test_a_criterion_that_fails_its_own_references_is_warned_about(slide_root, caplog):
    with caplog.at_level(logging.WARNING, logger="lamp_core.report.evaluation"):
        _evaluate(slide_root, "slide_right")
    assert not caplog.records
    with caplog.at_level(logging.WARNING, logger="lamp_core.report.evaluation"):
        evaluation = _evaluate(slide_root, "slide_right", expected_motion={"direction_deg": 180})
    assert evaluation.value("reference", "learned_fraction") == 0.0
    (record,) = caplog.records
    message = record.getMessage()
    assert record.levelno == logging.WARNING
    assert message.startswith("slide_right: ") and "0 of 4 (0%)" in message
    assert "evaluation.slide_right.expected_motion" in message and "180° (left)" in message
