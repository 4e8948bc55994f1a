"""Turn statistics of a video's motion: the measure behind the rotation criterion."""

import numpy as np
import pytest
from sample_folders import SIZE, eval_scenes, still_video

from lamp_core.metrics import measure_motion
from lamp_core.metrics.expected_motion import RollCriterion, ScaleCriterion
from lamp_core.metrics.flow import turn_statistics
from lamp_core.synthetic import render_clip


def test_an_orbit_turns_clockwise_at_its_angular_speed():
    for scene in eval_scenes("orbit", 4):
        motion = measure_motion(render_clip(scene, 8, SIZE, SIZE))
        assert motion.turn_rate_deg == pytest.approx(scene.rate, abs=2.0)  # orbit: degrees per frame
        assert motion.clockwise_fraction == 1.0


def test_a_mirrored_orbit_turns_counterclockwise():
    for scene in eval_scenes("orbit", 3):
        clockwise = measure_motion(render_clip(scene, 8, SIZE, SIZE))
        mirrored = measure_motion(np.ascontiguousarray(render_clip(scene, 8, SIZE, SIZE)[:, :, ::-1]))
        assert mirrored.turn_rate_deg == pytest.approx(-clockwise.turn_rate_deg, abs=2.0)
        assert mirrored.clockwise_fraction == 0.0


def test_a_slide_does_not_turn_and_a_still_video_has_no_turn():
    for scene in eval_scenes("slide_right", 3):
        assert abs(measure_motion(render_clip(scene, 8, SIZE, SIZE)).turn_rate_deg) < 1.0
    still = measure_motion(still_video(eval_scenes("slide_right", 1)[0]))
    assert still.turn_rate_deg is None and still.clockwise_fraction is None
    assert still.as_metrics()["turn_rate_deg"] is None


def _uniform_flow(vectors):
    """A flow field (P, 4, 4, 2) whose pair p moves every pixel by vectors[p]."""
    return np.broadcast_to(np.asarray(vectors, dtype=np.float32)[:, None, None, :], (len(vectors), 4, 4, 2))


def test_turns_across_a_still_pair_are_spread_over_the_frames_they_span():
    # right, (still), down, left: +90 degrees over 2 frames, then +90 over 1 frame -> 180 / 3 per frame
    flow = _uniform_flow([(1, 0), (0, 0), (0, 1), (-1, 0)])
    rate, clockwise = turn_statistics(flow, min_magnitude=0.25)
    assert rate == pytest.approx(60.0)
    assert clockwise == 1.0


def test_turns_wrap_around_the_circle():
    # 350 degrees then 10 degrees: a turn of +20, not -340
    angles = np.radians([350.0, 10.0])
    rate, _ = turn_statistics(_uniform_flow(np.stack([np.cos(angles), np.sin(angles)], axis=1)), 0.25)
    assert rate == pytest.approx(20.0, abs=1e-4)


def test_the_global_motion_is_measured_once_with_the_summary():
    # At the default 64x64: at 32x32 the flow of several small sliding objects can fit a roll of a few
    # degrees per frame that the roll criterion accepts (docs/EVALUATION.md).
    side = 64
    scene = eval_scenes("slide_right", 1)[0]
    motion = measure_motion(render_clip(scene, 8, side, side))
    assert motion.frame_size == (side, side) and motion.side == side
    assert len(motion.pair_directions_deg) == 7 and len(motion.global_motion.scale_rates) == 7
    assert all(angle is not None and (angle < 45 or angle > 315) for angle in motion.pair_directions_deg)
    metrics = motion.as_metrics()
    # Several objects sliding over a texture leave a small raw zoom/roll in the fit (here up to 1.5°/frame);
    # the zoom and roll criteria reject it, as the part of the flow the fit explains is small.
    assert abs(metrics["scale_rate"]) < 0.01 and abs(metrics["roll_rate_deg"]) < 3.0
    for criterion in (ScaleCriterion("zoom_in"), ScaleCriterion("zoom_out")):
        assert not criterion.accepts(motion)
    for criterion in (RollCriterion("clockwise"), RollCriterion("counterclockwise")):
        assert not criterion.accepts(motion)
    still = measure_motion(still_video(scene))
    assert still.global_motion is None and still.pair_directions_deg == (None,) * 7
    assert still.as_metrics()["scale_rate"] is None and still.as_metrics()["roll_rate_deg"] is None
