"""Optical flow and motion summaries recover the direction and speed of constructed motion."""

import numpy as np
import pytest
from constructed_videos import moving_disc, still_video, translating_texture

from lamp_core.errors import LampError
from lamp_core.metrics import (
    FlowSettings,
    optical_flow,
    summarize_motion,
)
from lamp_core.metrics.flow import angular_difference


@pytest.mark.parametrize("size", [32, 64])
@pytest.mark.parametrize("k", [1, 2, 3])
def test_translating_texture_gives_direction_and_speed(size, k):
    summary = summarize_motion(translating_texture(size, k))
    assert angular_difference(summary.direction_deg, 0.0) < 2.0
    assert summary.speed == pytest.approx(k, abs=0.1)
    assert summary.coherence > 0.95
    assert summary.direction_histogram[0] > 0.9  # bin 0 is centred on "right"


@pytest.mark.parametrize("size", [32, 64])
@pytest.mark.parametrize("k", [1, 2, 3])
def test_moving_disc_gives_direction_and_speed(size, k):
    summary = summarize_motion(moving_disc(size, k))
    (dx, dy), speed = summary.mean_displacement, summary.speed
    assert speed == pytest.approx(k, abs=0.15)
    assert dx > 0.8 * k
    assert abs(dy) < 0.1


@pytest.mark.parametrize("angle", [45, 90, 180, 270])
def test_direction_follows_the_motion(angle):
    summary = summarize_motion(moving_disc(32, 2, angle_deg=angle))
    assert angular_difference(summary.direction_deg, angle) < 3.0


def test_downward_texture_has_positive_dy():
    summary = summarize_motion(translating_texture(32, 2, axis=0))
    (dx, dy), speed = summary.mean_displacement, summary.speed
    assert dy == pytest.approx(2.0, abs=0.1)
    assert speed == pytest.approx(2.0, abs=0.1)
    assert abs(dx) < 0.1


def test_reverse_flow_points_back():
    video = translating_texture(32, 2)
    forward = optical_flow(video)
    backward = optical_flow(video, reverse=True)
    assert forward.shape == (7, 32, 32, 2)
    interior = (slice(None), slice(8, -8), slice(8, -8))
    np.testing.assert_allclose(forward[interior].mean(axis=(0, 1, 2)), [2, 0], atol=0.1)
    np.testing.assert_allclose(backward[interior].mean(axis=(0, 1, 2)), [-2, 0], atol=0.1)


def test_identical_frames_have_zero_flow():
    video = still_video(32)
    assert not optical_flow(video).any()
    summary = summarize_motion(video)
    assert summary.direction_deg is None
    assert summary.speed == 0.0
    assert summary.magnitude_histogram[0] == 1.0
    assert summary.mean_displacement == (0.0, 0.0)


@pytest.mark.parametrize("size", [32, 64])
def test_identical_frames_do_not_move(size):
    summary = summarize_motion(still_video(size))
    assert (summary.moving_fraction, summary.mean_magnitude) == (0.0, 0.0)


@pytest.mark.parametrize("size", [32, 64])
@pytest.mark.parametrize("k", [1, 2, 3])
def test_translating_texture_moves_everywhere(size, k):
    summary = summarize_motion(translating_texture(size, k))
    assert summary.moving_fraction > 0.95
    assert summary.mean_magnitude == pytest.approx(k, rel=0.1)  # the wrap-around seam is off


def test_a_disc_moves_in_part_of_the_frame_and_faster_means_more():
    slow, fast = summarize_motion(moving_disc(64, 1)), summarize_motion(moving_disc(64, 3))
    assert 0.05 < slow.moving_fraction < 0.6
    assert fast.mean_magnitude > 2 * slow.mean_magnitude


def test_magnitude_histogram_is_a_distribution():
    summary = summarize_motion(moving_disc(32, 3))
    assert summary.magnitude_histogram.sum() == pytest.approx(1.0)
    assert summary.direction_histogram.sum() == pytest.approx(1.0)
    # 16 bins over 0..8 px/frame: the disc at 3 px/frame lands in bin 6 ([3, 3.5)) or just below it
    assert summary.magnitude_histogram[5:7].sum() > 0.5 * summary.moving_fraction


@pytest.mark.parametrize(
    ("video", "message"),
    [
        (np.zeros((8, 32, 32, 3), dtype=np.float32), "dtype float32"),
        (np.zeros((8, 32, 32), dtype=np.uint8), "shape"),
        (np.zeros((1, 32, 32, 3), dtype=np.uint8), "at least 2 frames"),
        ([[0]], "numpy array"),
    ],
)
def test_bad_video_is_named_in_the_error(video, message):
    with pytest.raises(LampError, match=message):
        optical_flow(video)


def test_flow_settings_are_checked():
    with pytest.raises(ValueError, match="min_magnitude"):
        FlowSettings(min_magnitude=9.0, max_magnitude=8.0)
    with pytest.raises(ValueError, match="bins"):
        FlowSettings(direction_bins=1)
