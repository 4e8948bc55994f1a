"""Motion fidelity compares the flow distributions of generated videos and reference clips."""

import numpy as np
import pytest
from constructed_videos import moving_disc, still_video, translating_texture

from lamp_core.errors import LampError
from lamp_core.metrics import motion_fidelity
from lamp_core.metrics.fidelity import circular_emd, linear_emd


def test_circular_emd_counts_bins_around_the_circle():
    p = np.eye(16)[0]
    assert circular_emd(p, p) == 0.0
    assert circular_emd(p, np.eye(16)[1]) == pytest.approx(1.0)
    assert circular_emd(p, np.eye(16)[15]) == pytest.approx(1.0)  # the short way round
    assert circular_emd(p, np.eye(16)[8]) == pytest.approx(8.0)  # opposite: half the circle
    assert linear_emd(p, np.eye(16)[15]) == pytest.approx(15.0)


def _discs(k, angle, size=32):
    return [moving_disc(size, k, angle_deg=angle + offset) for offset in (-5, 0, 5)]


def test_same_motion_has_full_fidelity():
    result = motion_fidelity(_discs(2, 0), _discs(2, 0))
    assert result["direction_emd_deg"] == pytest.approx(0.0, abs=1e-9)
    assert result["magnitude_emd"] == pytest.approx(0.0, abs=1e-9)
    assert result["direction_cosine"] == pytest.approx(1.0)
    assert result["motion_fidelity"] == pytest.approx(1.0)


def test_opposite_direction_has_no_fidelity():
    result = motion_fidelity(_discs(2, 180), _discs(2, 0))
    assert result["direction_emd_deg"] > 160
    assert result["direction_cosine"] < -0.95
    assert result["motion_fidelity"] < 0.15


def test_fidelity_orders_speed_and_direction_errors():
    references = _discs(2, 0)
    same = motion_fidelity(_discs(2, 0), references)["motion_fidelity"]
    slower = motion_fidelity(_discs(1, 0), references)
    turned = motion_fidelity(_discs(2, 90), references)
    assert slower["direction_emd_deg"] < 10 and slower["magnitude_emd"] > 0.1
    assert turned["direction_emd_deg"] == pytest.approx(90, abs=10)
    assert turned["direction_cosine"] == pytest.approx(0.0, abs=0.1)
    assert same > slower["motion_fidelity"] > turned["motion_fidelity"]


def test_still_videos_have_no_direction_with_a_reason():
    result = motion_fidelity([still_video(32)] * 2, _discs(2, 0))
    assert result["direction_emd_deg"] is None and result["direction_cosine"] is None
    assert "no pixel moves in the generated videos" in result["unavailable"]["direction_emd_deg"]
    assert result["motion_fidelity"] == 0.0
    assert motion_fidelity([still_video(32)], [still_video(32)])["motion_fidelity"] == 1.0


def test_incoherent_motion_has_no_direction_cosine():
    # textures moving right and left cancel: the pooled mean flow has no direction
    references = [translating_texture(32, 2), translating_texture(32, -2)]
    result = motion_fidelity(_discs(2, 0), references)
    assert result["direction_cosine"] is None
    assert "no coherent direction" in result["unavailable"]["direction_cosine"]
    assert result["direction_emd_deg"] == pytest.approx(90, abs=10)


def test_sizes_must_match():
    with pytest.raises(LampError, match="reference clip 0: frames are 64x64"):
        motion_fidelity(_discs(2, 0), [moving_disc(64, 2)])


def test_empty_sets_are_rejected():
    with pytest.raises(LampError, match="reference clip: needs at least 1 videos"):
        motion_fidelity(_discs(2, 0), [])
