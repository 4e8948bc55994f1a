"""The similarity fit about the frame centre: exact on constructed flow fields, signs, degenerate cases."""

import math

import numpy as np
import pytest

from lamp_core.metrics import fit_global_motion
from lamp_core.metrics.flow import fit_pair


def _similarity_flow(a, b, tx, ty, size=32, pairs=3):
    """Flow (pairs, size, size, 2) of u = a x' - b y' + tx, v = b x' + a y' + ty about the frame centre."""
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float64)
    x, y = xs - (size - 1) / 2, ys - (size - 1) / 2
    field = np.stack([a * x - b * y + tx, b * x + a * y + ty], axis=-1).astype(np.float32)
    return np.repeat(field[None], pairs, axis=0)


def test_a_similarity_flow_is_recovered_exactly():
    scale, angle = 1.03, math.radians(4.0)
    a, b = scale * math.cos(angle) - 1, scale * math.sin(angle)
    fit = fit_global_motion(_similarity_flow(a, b, 0.7, -0.4), min_magnitude=0.25)
    assert fit.scale_rate == pytest.approx(0.03, abs=1e-5)
    assert fit.roll_rate_deg == pytest.approx(4.0, abs=1e-4)
    assert fit.translation == pytest.approx((0.7, -0.4), abs=1e-4)
    assert fit.explained == pytest.approx((1.0, 1.0, 1.0), abs=1e-6)
    assert fit.scale_fraction(+1) == 1.0 and fit.roll_fraction(+1) == 1.0 and fit.roll_fraction(-1) == 0.0


def test_positive_roll_is_clockwise_on_screen():
    # y points down: a pixel right of the centre moving down, one below it moving left, is clockwise
    fit = fit_global_motion(_similarity_flow(0.0, 0.05, 0.0, 0.0), min_magnitude=0.25)
    size = 32
    field = _similarity_flow(0.0, 0.05, 0.0, 0.0)[0]
    right_of_centre, below_centre = field[size // 2, size - 1], field[size - 1, size // 2]
    assert right_of_centre[1] > 0 and below_centre[0] < 0
    assert fit.roll_rate_deg > 0
    assert fit_global_motion(_similarity_flow(0.0, -0.05, 0.0, 0.0), 0.25).roll_rate_deg < 0


def test_zooming_in_is_a_positive_scale_rate():
    field = _similarity_flow(0.04, 0.0, 0.0, 0.0)[0]
    assert field[16, 31, 0] > 0  # a pixel right of the centre moves outward
    assert fit_global_motion(_similarity_flow(0.04, 0.0, 0.0, 0.0), 0.25).scale_rate == pytest.approx(0.04)
    assert fit_global_motion(_similarity_flow(-0.04, 0.0, 0.0, 0.0), 0.25).scale_rate < 0


def test_a_pure_translation_has_no_scale_or_roll_and_explains_nothing():
    fit = fit_global_motion(_similarity_flow(0.0, 0.0, 1.0, 0.5), min_magnitude=0.25)
    assert fit.scale_rate == pytest.approx(0.0, abs=1e-6) and fit.roll_rate_deg == pytest.approx(
        0.0, abs=1e-5
    )
    assert fit.translation == pytest.approx((1.0, 0.5), abs=1e-5)
    assert fit.explained == (0.0, 0.0, 0.0)  # a uniform flow has no variation to explain
    assert fit.scale_fraction(+1, min_explained=0.5) == 0.0


def test_still_and_nearly_still_flows_give_no_fit_and_no_nan():
    assert fit_global_motion(np.zeros((4, 32, 32, 2), np.float32), 0.25) is None
    speck = np.zeros((2, 32, 32, 2), np.float32)
    speck[:, 5:7, 5:7] = 1.0  # 4 moving pixels: too few to fit
    assert fit_global_motion(speck, 0.25) is None
    line = np.zeros((1, 32, 32, 2), np.float32)
    line[0, 10, :, 1] = 1.0  # one moving row: enough pixels, spread along x only
    assert fit_pair(line[0], 0.25) is not None


def test_unfitted_pairs_count_as_still_in_the_means_and_fractions():
    flow = _similarity_flow(0.04, 0.0, 0.0, 0.0, pairs=4)
    flow[2:] = 0.0
    fit = fit_global_motion(flow, 0.25)
    assert fit.scale_rate == pytest.approx(0.02)
    assert fit.scale_fraction(+1) == 0.5 and fit.scale_fraction(-1) == 0.0
    assert all(math.isfinite(value) for value in (*fit.scale_rates, *fit.roll_rates_deg, *fit.explained))
