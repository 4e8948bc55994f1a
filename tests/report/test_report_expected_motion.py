"""The learned-motion criteria: parsing from params.yaml, and what they accept."""

from pathlib import Path

import cv2
import numpy as np
import pytest
from sample_folders import SIZE, eval_scenes, still_video

from lamp_core.errors import LampError
from lamp_core.metrics import (
    DirectionCriterion,
    RollCriterion,
    RotationCriterion,
    ScaleCriterion,
    expected_motion_from_params,
    measure_motion,
)
from lamp_core.metrics.flow import angular_difference
from lamp_core.params import load_params
from lamp_core.synthetic import render_clip


def _rendered(motion, n, seed=7, mirror=False):
    videos = [render_clip(scene, 8, SIZE, SIZE) for scene in eval_scenes(motion, n, seed)]
    return [np.ascontiguousarray(v[:, :, ::-1]) if mirror else v for v in videos]


def test_params_entries_become_criteria():
    assert expected_motion_from_params(None, "m") is None
    assert expected_motion_from_params({"direction_deg": 90}, "m") == DirectionCriterion(90.0)
    rotation = expected_motion_from_params({"rotation": "counterclockwise", "min_turn_deg": 2}, "m")
    assert rotation == RotationCriterion("counterclockwise", min_turn_deg=2.0)
    assert expected_motion_from_params({"scale": "zoom_in"}, "m") == ScaleCriterion("zoom_in")
    zoom_out = expected_motion_from_params({"scale": "zoom_out", "min_rate": 0.02, "min_explained": 0.3}, "m")
    assert zoom_out == ScaleCriterion("zoom_out", min_rate=0.02, min_explained=0.3)
    roll = expected_motion_from_params({"roll": "counterclockwise", "min_rate_deg": 2}, "m")
    assert roll == RollCriterion("counterclockwise", min_rate_deg=2.0)
    direction = expected_motion_from_params({"direction_deg": 0, "min_speed": 0.01, "min_speed_px": 1}, "m")
    assert direction == DirectionCriterion(0.0, min_speed=0.01, min_speed_px=1.0)


def test_the_shipped_params_entries_still_parse():
    params = load_params(Path(__file__).parents[2] / "params.yaml")
    for motion, entry in params.get("evaluation", {}).items():
        criterion = expected_motion_from_params((entry or {}).get("expected_motion"), motion)
        assert criterion is None or isinstance(criterion, DirectionCriterion | ScaleCriterion | RollCriterion)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("right", "expected a mapping"),
        ({}, "exactly one of"),
        ({"direction_deg": 0, "rotation": "clockwise"}, "exactly one of"),
        ({"direction_deg": 0, "speed": 1}, "unknown keys speed"),
        ({"direction_deg": "east"}, "not a number"),
        ({"direction_deg": 0, "tolerance_deg": 0}, "tolerance_deg"),
        ({"rotation": "sideways"}, "rotation must be one of"),
        ({"rotation": "clockwise", "min_turn_deg": 50}, "min_turn_deg < max_turn_deg"),
        ({"rotation": "clockwise", "min_consistency": 2}, "min_consistency"),
        ({"rotation": "clockwise", "min_speed": -1}, "min_speed"),
        ({"direction_deg": 0, "min_speed": 0.5}, "fraction of the frame per frame; px/frame: min_speed_px"),
        ({"direction_deg": 0, "min_speed_px": -1}, "min_speed_px must be >= 0"),
        ({"direction_deg": 0, "min_consistency": 1.5}, "min_consistency"),
        ({"direction_deg": 0, "min_moving_fraction": 2}, "min_moving_fraction must be in"),
        ({"direction_deg": 0, "scale": "zoom_in"}, "exactly one of"),
        ({"scale": "zoom"}, "scale must be one of zoom_in, zoom_out"),
        ({"scale": "zoom_in", "min_rate": 1}, "min_rate must be in"),
        ({"scale": "zoom_in", "min_rate_deg": 1}, "unknown keys min_rate_deg"),
        ({"scale": "zoom_in", "min_explained": -0.1}, "min_explained"),
        ({"roll": "left"}, "roll must be one of clockwise, counterclockwise"),
        ({"roll": "clockwise", "min_rate_deg": 200}, "min_rate_deg must be in"),
        ({"roll": "clockwise", "min_rate": "fast"}, "unknown keys min_rate"),
        ({"roll": "clockwise", "min_rate_deg": "fast"}, "not a number"),
    ],
)
def test_bad_entries_are_refused_with_the_key_named(entry, message):
    with pytest.raises(LampError, match=message) as error:
        expected_motion_from_params(entry, "spin")
    assert "evaluation.spin.expected_motion" in str(error.value)


def _px_criterion(angle, tolerance_deg=45.0, min_speed_px=0.5):
    return DirectionCriterion(
        angle,
        tolerance_deg,
        min_speed=0.0,
        min_speed_px=min_speed_px,
        min_consistency=0.0,
        min_moving_fraction=0.0,
    )


def test_the_direction_criterion_in_px_without_consistency_is_speed_and_angle():
    videos = _rendered("slide_right", 3) + _rendered("slide_right", 2, mirror=True) + _rendered("orbit", 3)
    videos.append(still_video(eval_scenes("slide_right", 1)[0]))
    for angle in (0.0, 180.0):
        motions = [measure_motion(video) for video in videos]
        verdicts = [_px_criterion(angle).accepts(motion) for motion in motions]
        expected = [
            m.summary.direction_deg is not None
            and m.summary.speed >= 0.5
            and angular_difference(m.summary.direction_deg, angle) <= 45.0
            for m in motions
        ]
        assert verdicts == expected
    assert verdicts[3:5] == [True, True]  # the mirrored slides move left


def test_the_default_direction_criterion_accepts_rendered_slides_their_way_only():
    right, down, left = DirectionCriterion(0.0), DirectionCriterion(90.0), DirectionCriterion(180.0)
    slides = [measure_motion(video) for video in _rendered("slide_right", 4)]
    assert all(right.accepts(motion) for motion in slides)
    assert not any(left.accepts(motion) or down.accepts(motion) for motion in slides)
    assert not right.accepts(measure_motion(still_video(eval_scenes("slide_right", 1)[0])))


def test_orbits_pass_the_rotation_criterion_and_other_motions_do_not():
    clockwise = RotationCriterion("clockwise")
    assert all(clockwise.accepts(measure_motion(v)) for v in _rendered("orbit", 12, seed=3))
    assert not any(clockwise.accepts(measure_motion(v)) for v in _rendered("orbit", 6, mirror=True))
    assert all(
        RotationCriterion("counterclockwise").accepts(measure_motion(v))
        for v in _rendered("orbit", 6, mirror=True)
    )
    assert not any(clockwise.accepts(measure_motion(v)) for v in _rendered("slide_right", 6))
    assert not clockwise.accepts(measure_motion(still_video(eval_scenes("orbit", 1)[0])))


def test_random_flicker_rarely_passes_the_rotation_criterion():
    rng = np.random.default_rng(0)
    criterion = RotationCriterion("clockwise")
    passed = 0
    for _ in range(40):
        coarse = rng.integers(0, 255, (8, 8, 8, 3)).astype(np.float32)
        video = np.stack([cv2.resize(f, (SIZE, SIZE), interpolation=cv2.INTER_CUBIC) for f in coarse])
        passed += criterion.accepts(measure_motion(video.clip(0, 255).astype(np.uint8)))
    assert passed <= 4


def test_criteria_describe_themselves():
    assert "0° (right)" in DirectionCriterion(0).describe()
    assert "0.50% of the frame per frame" in DirectionCriterion(0).describe()
    assert "2 px/frame" in DirectionCriterion(0, min_speed_px=2).describe()
    assert "clockwise" in RotationCriterion("clockwise").describe()
    assert (
        "zooms in" in ScaleCriterion("zoom_in").describe()
        and "1.0% per frame" in ScaleCriterion("zoom_in").describe()
    )
    assert "zooms out" in ScaleCriterion("zoom_out").describe()
    assert "counterclockwise" in RollCriterion("counterclockwise").describe()


def test_the_direction_criterion_on_one_slide():
    scene = eval_scenes("slide_right", 1)[0]
    moving, still = measure_motion(_rendered("slide_right", 1)[0]), measure_motion(still_video(scene))
    assert _px_criterion(0.0).accepts(moving)
    assert _px_criterion(350.0, tolerance_deg=20).accepts(moving)
    assert not _px_criterion(180.0).accepts(moving)
    assert not _px_criterion(90.0).accepts(moving)
    assert not _px_criterion(0.0, min_speed_px=20.0).accepts(moving)
    assert not _px_criterion(0.0).accepts(still)
