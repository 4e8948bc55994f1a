"""The contract with the generate stage: a sample folder written by `lamp_core.sampling` evaluates."""

import numpy as np
import pytest
from pipeline_settings import from_params
from sample_folders import N_FRAMES, SIZE, write_frame_cache

from lamp_core.data import load_frame_cache
from lamp_core.errors import MetricUnavailable
from lamp_core.metrics import MetricsSettings
from lamp_core.params import motion_config
from lamp_core.report import evaluate_motion, load_motion_samples
from lamp_core.sampling import GeneratedVideo, write_sample_folder
from lamp_core.sampling.first_frame import render_first_frame
from lamp_core.synthetic import render_clip


def test_samples_written_by_the_generate_stage_are_evaluated(tmp_path):
    for variant in ("tuned", "untuned"):
        videos = []
        for index, seed in enumerate((11, 12)):
            first = render_first_frame("slide_right", seed, SIZE, SIZE)
            moving = render_clip(first.scene, N_FRAMES, SIZE, SIZE)
            frames = moving if variant == "tuned" else np.repeat(first.image[None], N_FRAMES, axis=0)
            videos.append(GeneratedVideo(f"v{index:02d}", "an object sliding right", "", seed, first, frames))
        write_sample_folder(tmp_path / "samples" / variant, videos, fps=8)
    write_frame_cache(tmp_path / "frames", "slide_right", n_clips=2)
    params = {
        "defaults": {"width": SIZE, "height": SIZE, "fps": 8, "n_frames": N_FRAMES, "sample_rate": 1},
        "motions": {"slide_right": {}},
    }
    params["defaults"].update(min_clips=2, max_clip_seconds=4)
    evaluation = evaluate_motion(
        motion_config(params, "slide_right"),
        load_motion_samples(tmp_path / "samples"),
        load_frame_cache(tmp_path / "frames"),
        from_params(MetricsSettings, "metrics"),
        MetricUnavailable("no CLIP weights (test)"),
        expected_motion={"direction_deg": 0},
    )
    assert evaluation.value("tuned", "learned_fraction") == 1.0
    assert evaluation.value("untuned", "learned_fraction") == 0.0
    assert evaluation.value("tuned", "continuation_psnr") == pytest.approx(100.0)
    assert evaluation.value("tuned", "first_frame_psnr") == pytest.approx(100.0)
