"""PSNR and SSIM, first-frame fidelity and the error against a ground-truth continuation."""

import cv2
import numpy as np
import pytest
from constructed_videos import moving_disc, smooth_texture

from lamp_core.errors import LampError
from lamp_core.metrics import continuation_error, first_frame_fidelity, frame_errors, psnr, ssim
from lamp_core.metrics.fidelity import MAX_PSNR_DB


def _ssim_by_definition(x: np.ndarray, y: np.ndarray) -> float:
    """SSIM of two (H, W, 3) images, one 11x11 Gaussian window position at a time (slow, obvious)."""
    g = cv2.getGaussianKernel(11, 1.5)
    w = g @ g.T
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    values = []
    for c in range(3):
        for i in range(x.shape[0] - 10):
            for j in range(x.shape[1] - 10):
                a = x[i : i + 11, j : j + 11, c].astype(float)
                b = y[i : i + 11, j : j + 11, c].astype(float)
                ma, mb = (w * a).sum(), (w * b).sum()
                va, vb = (w * a * a).sum() - ma**2, (w * b * b).sum() - mb**2
                cov = (w * a * b).sum() - ma * mb
                values.append((2 * ma * mb + c1) * (2 * cov + c2) / ((ma**2 + mb**2 + c1) * (va + vb + c2)))
    return float(np.mean(values))


def test_psnr_of_a_known_error():
    frame = smooth_texture(32)[None]
    assert psnr(frame, frame)[0] == MAX_PSNR_DB
    brighter = frame + np.uint8(10)  # MSE = 100
    assert psnr(brighter, frame)[0] == pytest.approx(10 * np.log10(255**2 / 100))


def test_ssim_matches_its_definition():
    rng = np.random.default_rng(0)
    x = smooth_texture(16, seed=1)
    y = np.clip(x.astype(int) + rng.integers(-30, 31, x.shape), 0, 255).astype(np.uint8)
    assert ssim(x[None], x[None])[0] == pytest.approx(1.0)
    assert ssim(x[None], y[None])[0] == pytest.approx(_ssim_by_definition(x, y), abs=1e-9)
    assert ssim(x[None], y[None])[0] < 0.95


def test_first_frame_fidelity_of_the_given_frame():
    video = moving_disc(32, 2)
    assert first_frame_fidelity(video, video[0]) == {"first_frame_psnr": 100.0, "first_frame_ssim": 1.0}
    larger = cv2.resize(video[0], (64, 64), interpolation=cv2.INTER_NEAREST)
    assert first_frame_fidelity(video, larger)["first_frame_psnr"] > 30  # resized back to 32x32
    other = first_frame_fidelity(video, video[-1])
    assert other["first_frame_psnr"] < 30 and other["first_frame_ssim"] < 0.95


def test_continuation_error_against_ground_truth():
    truth = moving_disc(32, 2, n_frames=10)
    perfect = continuation_error(truth[:8], truth)
    assert perfect == {"continuation_psnr": 100.0, "continuation_ssim": 1.0, "continuation_mae": 0.0}
    frozen = np.repeat(truth[:1], 8, axis=0)  # the first frame, never moving
    worse = continuation_error(frozen, truth)
    assert worse["continuation_psnr"] < 30 and worse["continuation_mae"] > 0.01
    slower = continuation_error(moving_disc(32, 1.5, n_frames=8), moving_disc(32, 2, n_frames=8))
    assert worse["continuation_mae"] > slower["continuation_mae"] > 0


def test_frame_errors_are_per_frame():
    truth = moving_disc(32, 2)
    errors = frame_errors(np.repeat(truth[:1], 8, axis=0), truth)
    assert errors.mae.shape == errors.psnr.shape == errors.ssim.shape == (8,)
    assert errors.mae[0] == 0.0 and np.all(np.diff(errors.mae[:4]) > 0)  # drifting further from the truth


def test_bad_references_are_named():
    video = moving_disc(32, 2)
    with pytest.raises(LampError, match="ground truth: 4 frames, fewer than the video's 8"):
        continuation_error(video, video[:4])
    with pytest.raises(LampError, match="ground truth: shape"):
        continuation_error(video, moving_disc(64, 2))
    with pytest.raises(LampError, match="first frame: expected"):
        first_frame_fidelity(video, video)
    with pytest.raises(LampError, match="smaller than 11 px"):
        first_frame_fidelity(video[:, :8, :8], video[0, :8, :8])
