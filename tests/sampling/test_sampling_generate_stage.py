"""The DVC stage `generate`: eval prompts of a motion -> tuned and untuned sample folders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from sampling_helpers import toy_project

from lamp_core.report.samples import load_motion_samples
from stages.generate import main

EVAL_PROMPTS = [
    {"prompt": "{caption}, sliding right", "first_frame": {"render": {"seed": 1000}}},
    {"prompt": "{caption}, sliding right", "first_frame": {"render": {"seed": 1001}}, "seed": 77},
    {"prompt": "{caption}, sliding right", "first_frame": {"prompt": "a red square on a black background"}},
]


def test_stage_writes_both_variants_for_the_evaluate_stage(
    tmp_path: Path, tiny_sd_dir: Path, motion_dir: Path, capsys: pytest.CaptureFixture
) -> None:
    params = toy_project(tmp_path, tiny_sd_dir, motion_dir, EVAL_PROMPTS)
    data = tmp_path / "data"
    assert main(["slide_right", "--params", str(params), "--data-dir", str(data)]) == 0
    assert "3 videos x 2 variants of 4 frames at 32x24" in capsys.readouterr().out

    samples = data / "samples" / "slide_right"
    sets = load_motion_samples(samples)  # the evaluate stage's reader: same ids, prompts, seeds, sources
    tuned, untuned = sets["tuned"].by_id(), sets["untuned"].by_id()
    assert sorted(tuned) == ["video_00", "video_01", "video_02"]
    assert [tuned[i].seed for i in sorted(tuned)] == [1000, 77, 1002]
    assert tuned["video_00"].prompt.endswith(" background, sliding right")
    assert tuned["video_02"].prompt == "a red square on a black background, sliding right"
    assert tuned["video_02"].first_frame_source == f"t2i:{tiny_sd_dir}" and tuned["video_02"].scene is None
    assert tuned["video_00"].first_frame_source == "render" and tuned["video_00"].scene is not None
    for video_id, video in tuned.items():
        assert video.frames.shape == (4, 24, 32, 3)
        np.testing.assert_array_equal(video.first_frame, untuned[video_id].first_frame)
        np.testing.assert_array_equal(video.frames[0], untuned[video_id].frames[0])  # same first frame
        assert not np.array_equal(video.frames[1:], untuned[video_id].frames[1:])  # different models
    for variant in ("tuned", "untuned"):
        assert (samples / variant / "contact_sheet.png").is_file()
        assert (samples / variant / "video_01.gif").is_file()
    assert (samples / "contact_sheet.png").is_file()


def test_stage_errors_are_one_line_and_keep_earlier_samples(
    tmp_path: Path, tiny_sd_dir: Path, motion_dir: Path, capsys: pytest.CaptureFixture
) -> None:
    params = toy_project(tmp_path, tiny_sd_dir, motion_dir, EVAL_PROMPTS[:1])
    data = tmp_path / "data"
    earlier = data / "samples" / "slide_right" / "keep.txt"
    earlier.parent.mkdir(parents=True)
    earlier.write_text("earlier results")

    settings = yaml.safe_load(params.read_text())
    settings["generate"]["guidance"] = 3.0
    params.write_text(yaml.safe_dump(settings))
    assert main(["slide_right", "--params", str(params), "--data-dir", str(data)]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "unknown key `generate.guidance`" in error

    settings["generate"].pop("guidance")
    settings["evaluation"]["slide_right"]["eval_prompts"] = [
        {"prompt": "a", "first_frame": {"image": "missing.png"}}
    ]
    params.write_text(yaml.safe_dump(settings))
    assert main(["slide_right", "--params", str(params), "--data-dir", str(data)]) == 1
    assert "missing.png: no such image file" in capsys.readouterr().err
    assert earlier.read_text() == "earlier results"

    assert main(["slide_right", "--params", str(params), "--data-dir", str(tmp_path / "elsewhere")]) == 1
    assert "no motion artifact (run the tune stage" in capsys.readouterr().err
