"""Dynamic degree: zero for a still video, growing with how much and how fast things move."""

import pytest
from constructed_videos import moving_disc, still_video, translating_texture

from lamp_core.metrics import dynamic_degree


@pytest.mark.parametrize("size", [32, 64])
def test_identical_frames_have_dynamic_degree_zero(size):
    assert dynamic_degree(still_video(size)) == {"dynamic_degree": 0.0, "flow_magnitude": 0.0}


@pytest.mark.parametrize("size", [32, 64])
@pytest.mark.parametrize("k", [1, 2, 3])
def test_translating_texture_moves_everywhere(size, k):
    result = dynamic_degree(translating_texture(size, k))
    assert result["dynamic_degree"] > 0.95
    assert result["flow_magnitude"] == pytest.approx(k, rel=0.1)  # the wrap-around seam is off


def test_a_disc_moves_in_part_of_the_frame_and_faster_means_more():
    slow, fast = dynamic_degree(moving_disc(64, 1)), dynamic_degree(moving_disc(64, 3))
    assert 0.05 < slow["dynamic_degree"] < 0.6
    assert fast["flow_magnitude"] > 2 * slow["flow_magnitude"]
