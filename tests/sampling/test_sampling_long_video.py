"""Longer videos from chained windows."""

from __future__ import annotations

import numpy as np
import pytest
from sampling_helpers import HEIGHT, WIDTH, randomize_motion

from lamp_core.errors import LampError
from lamp_core.model import InflationConfig, SDBase
from lamp_core.sampling import (
    SamplingConfig,
    build_video_unet,
    render_first_frame,
    sample_long_video,
    sample_video,
    window_count,
)


def test_window_count() -> None:
    assert window_count(16, 16) == 1
    assert window_count(8, 16) == 1
    assert window_count(17, 16) == 2  # 16 + 15
    assert window_count(31, 16) == 2
    assert window_count(32, 16) == 3
    with pytest.raises(LampError):
        window_count(10, 1)


def test_each_window_starts_from_the_last_frame_of_the_previous_one(base: SDBase) -> None:
    unet = build_video_unet(base, InflationConfig.paper())
    randomize_motion(unet, seed=2)
    first = render_first_frame("slide_right", 1000, WIDTH, HEIGHT).image
    config = SamplingConfig.paper(num_inference_steps=2)
    steps = []
    video = sample_long_video(
        unet, base, "a", first, total_frames=6, window_frames=4, seed=7, config=config,
        progress=lambda step, total: steps.append((step, total)),
    )  # fmt: skip
    assert video.shape == (6, HEIGHT, WIDTH, 3)
    window_0 = sample_video(unet, base, "a", first, seed=7, n_frames=4, config=config)
    window_1 = sample_video(unet, base, "a", window_0[-1], seed=8, n_frames=4, config=config)
    np.testing.assert_array_equal(video[:4], window_0)
    np.testing.assert_array_equal(video[4:], window_1[1:3])
    assert steps[-1] == (4, 4) and len(steps) == 4
