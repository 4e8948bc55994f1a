"""Temporal smoothness: motion is not penalised, flicker is."""

import numpy as np
import pytest
from constructed_videos import flickering_video, moving_disc, still_video, translating_texture

from lamp_core.metrics import flicker, temporal_smoothness, warping_error
from lamp_core.metrics.flow import warp_previous_frames


def test_still_video_is_perfectly_smooth():
    assert temporal_smoothness(still_video(32)) == {"warping_error": 0.0, "flicker": 0.0}


@pytest.mark.parametrize("size", [32, 64])
def test_flicker_is_penalised_and_motion_is_not(size):
    flickering = temporal_smoothness(flickering_video(size, amplitude=40))
    for smooth_video in (translating_texture(size, 2), moving_disc(size, 2)):
        smooth = temporal_smoothness(smooth_video)
        assert smooth["warping_error"] < 0.02
        assert flickering["warping_error"] > 5 * smooth["warping_error"]
        assert flickering["flicker"] > 10 * smooth["flicker"]
    # brightness alternates by 2 x 40 levels every frame
    assert flickering["flicker"] == pytest.approx(80 / 255, abs=1e-6)
    assert flickering["warping_error"] == pytest.approx(80 / 255, rel=0.1)


def test_warping_with_the_true_flow_reproduces_the_next_frame():
    video = translating_texture(32, 3)
    true_backward_flow = np.zeros((7, 32, 32, 2), dtype=np.float32)
    true_backward_flow[..., 0] = -3.0
    warped, valid = warp_previous_frames(video, true_backward_flow)
    assert not valid[:, :, :3].any() and valid[:, :, 3:].all()
    np.testing.assert_array_equal(warped[:, :, 3:], video[1:, :, 3:])


def test_warping_error_does_not_mistake_motion_for_change():
    moving = translating_texture(32, 2)
    frame_difference = np.abs(np.diff(moving.astype(float), axis=0)).mean() / 255
    assert warping_error(moving) < 0.2 * frame_difference
    assert flicker(moving) < 1e-3
