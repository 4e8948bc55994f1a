"""Contact sheets, eval prompts from params, and the sample folder the evaluate stage reads."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pipeline_settings import PARAMS

from lamp_core.errors import LampError
from lamp_core.report.samples import load_sample_set
from lamp_core.sampling import (
    INDEX_COLUMNS,
    FirstFrame,
    GeneratedVideo,
    GenerateSettings,
    contact_sheet,
    parse_eval_prompts,
    render_first_frame,
    write_sample_folder,
)
from lamp_core.video import probe_video


def _video(value: int, frames: int = 5, height: int = 8, width: int = 12) -> np.ndarray:
    video = np.zeros((frames, height, width, 3), np.uint8)
    video[:] = np.arange(frames, dtype=np.uint8)[:, None, None, None] * 20 + value
    return video


def test_contact_sheet_rows_are_videos_and_columns_frames() -> None:
    sheet = contact_sheet([_video(10), _video(100)], max_frames=16, min_frame_height=16)
    # Frames enlarged x2 (8 -> 16 pixels), 2-pixel gaps; no labels.
    assert sheet.shape == (2 * (16 + 2), 5 * (24 + 2), 3)
    assert sheet[0, 0, 0] == 10 and sheet[18, 0, 0] == 100
    assert sheet[0, 26 * 4, 0] == 10 + 4 * 20  # row 1, frame 5
    labelled = contact_sheet([_video(10)], ["video_00: a red circle"], max_frames=3)
    assert labelled.shape[1] == 3 * (12 * 8 + 2)  # 3 of the 5 frames, enlarged x8 to be >= 64 pixels high
    assert (labelled[:14] < 128).any()  # the label's ink
    with pytest.raises(ValueError, match="one frame size"):
        contact_sheet([_video(1), _video(1, height=16)])


def test_eval_prompts_parse_and_fill_captions() -> None:
    entries = [
        {"prompt": "{caption}, sliding right", "first_frame": {"render": {"seed": 1000}}},
        {"prompt": "a cat", "first_frame": {"image": "cat.png"}, "seed": 3, "negative_prompt": "blurry"},
        {"prompt": "{caption} moving", "first_frame": {"prompt": "a red square"}},
    ]
    prompts = parse_eval_prompts("slide_right", entries, base_seed=50)
    assert [p.video_id for p in prompts] == ["video_00", "video_01", "video_02"]
    assert [p.seed for p in prompts] == [50, 3, 52]
    assert prompts[1].negative_prompt == "blurry"
    rendered = render_first_frame("slide_right", 1000, 32, 24)
    assert prompts[0].prompt_for(rendered) == f"{rendered.scene.caption}, sliding right"
    t2i = FirstFrame(np.zeros((24, 32, 3), np.uint8), "t2i:base")
    assert prompts[2].prompt_for(t2i) == "a red square moving"


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ([], "non-empty list"),
        ([{"prompt": "a"}], r"eval_prompts\[0\]: lacks first_frame"),
        ([{"prompt": "", "first_frame": {"render": {"seed": 1}}}], "prompt must be non-empty"),
        ([{"prompt": "a", "first_frame": {"render": {"seed": 1}}, "sed": 1}], "unknown key"),
        ([{"prompt": "{caption}", "first_frame": {"image": "a.png"}}], "needs a rendered or prompted"),
        ([{"prompt": "a", "first_frame": {"render": {"seed": 1}}, "seed": "x"}], "seed must be an integer"),
    ],
)
def test_bad_eval_prompts_name_the_entry(entries, message: str) -> None:
    with pytest.raises(LampError, match=message):
        parse_eval_prompts("orbit", entries, base_seed=0)


def test_generate_settings_from_params() -> None:
    section = PARAMS["generate"]
    settings = GenerateSettings.from_params(
        section | {"num_inference_steps": 25, "vae_slicing": True, "batch_size": 3}
    )
    assert settings.sampling.num_inference_steps == 25
    assert settings.sampling.guidance_scale == section["guidance_scale"]
    assert settings.memory.vae_slicing and settings.batch_size == 3
    with pytest.raises(LampError, match=r"unknown key `generate\.steps`"):
        GenerateSettings.from_params(section | {"steps": 25})
    with pytest.raises(LampError, match="expected a whole number"):
        GenerateSettings.from_params(section | {"num_inference_steps": 2.5})
    with pytest.raises(LampError, match="true or false"):
        GenerateSettings.from_params(section | {"adain": "no"})
    missing = {key: value for key, value in section.items() if key != "guidance_scale"}
    with pytest.raises(LampError, match=r"missing key `generate\.guidance_scale`"):
        GenerateSettings.from_params(missing)


def test_sample_folder_is_what_the_evaluate_stage_reads(tmp_path: Path) -> None:
    rendered = render_first_frame("orbit", 2000, 32, 24)
    image = FirstFrame(np.full((24, 32, 3), 70, np.uint8), "image:cat.png")
    videos = [
        GeneratedVideo("video_00", "an orbit", "", 1, rendered, _video(5, height=24, width=32)),
        GeneratedVideo("video_01", "a cat", "ugly", 2, image, _video(9, height=24, width=32)),
    ]
    folder = write_sample_folder(tmp_path / "tuned", videos, fps=8)
    with (folder / "index.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0]) == INDEX_COLUMNS
    assert json.loads(rows[0]["scene_json"]) == rendered.scene.to_dict() and rows[1]["scene_json"] == ""
    assert probe_video(folder / "video_00.mp4").codec == "h264"
    assert Image.open(folder / "contact_sheet.png").size[0] > 0
    loaded = load_sample_set(folder, "tuned")  # the evaluate stage's reader
    by_id = loaded.by_id()
    np.testing.assert_array_equal(by_id["video_01"].frames, videos[1].frames)
    np.testing.assert_array_equal(by_id["video_00"].first_frame, rendered.image)
    assert (
        by_id["video_00"].scene == rendered.scene and by_id["video_01"].first_frame_source == "image:cat.png"
    )
