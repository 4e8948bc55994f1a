"""A similarity motion about the frame centre, fitted to each frame pair's optical flow.

For each frame pair, the flow (u, v) of the moving pixels (|flow| >= `min_magnitude`) is fitted by least
squares with

    u = a (x - cx) - b (y - cy) + tx,    v = b (x - cx) + a (y - cy) + ty,

(cx, cy) the frame centre, in image coordinates (+x right, +y down). In complex numbers, with
z = (x - cx) + i (y - cy) and w = u + i v, this is w = c z + t with c = a + i b, so a frame pair maps
z to (1 + c) z + t: a zoom by |1 + c| and a turn by arg(1 + c) about the centre, then a shift t.
The scale rate is |1 + c| - 1 (> 0: zooming in) and the roll rate arg(1 + c) (> 0: clockwise on screen,
since y points down); for small motions they are a = divergence / 2 and b = curl / 2. Each pair also
keeps how much of its flow's variation across the frame the zoom-and-roll part explains, which tells a
camera zoom or roll (most of it) from a sliding object or flicker (little of it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

MIN_FIT_FRACTION = 0.02
"""A frame pair is fitted when at least this fraction of its pixels move (and at least MIN_FIT_PIXELS)."""
MIN_FIT_PIXELS = 8
MIN_FIT_SPREAD = 1.0
"""px²: the moving pixels' mean squared distance from their centroid must reach this (else a and b are
undetermined, e.g. a single moving speck)."""


@dataclass(frozen=True)
class GlobalMotion:
    """Per-frame-pair similarity motion of one video; a pair that could not be fitted counts as still (0)."""

    translations: tuple[tuple[float, float], ...]
    """(tx, ty) px/frame of each frame pair: the motion of the frame centre."""
    scale_rates: tuple[float, ...]
    """|1 + c| - 1 per frame pair: > 0 zooms in (the content grows), < 0 zooms out."""
    roll_rates_deg: tuple[float, ...]
    """arg(1 + c) in degrees per frame pair: > 0 turns the content clockwise on screen."""
    explained: tuple[float, ...]
    """`PairFit.explained` of each frame pair (0 for a pair that could not be fitted)."""

    @property
    def scale_rate(self) -> float:
        """Mean scale rate per frame over all frame pairs."""
        return float(np.mean(self.scale_rates))

    @property
    def roll_rate_deg(self) -> float:
        """Mean roll rate in degrees per frame over all frame pairs."""
        return float(np.mean(self.roll_rates_deg))

    @property
    def translation(self) -> tuple[float, float]:
        """Mean (tx, ty) in px/frame over all frame pairs."""
        tx, ty = np.mean(np.asarray(self.translations, dtype=np.float64), axis=0)
        return float(tx), float(ty)

    def scale_fraction(self, sense: float, min_explained: float = 0.0) -> float:
        """Fraction of all frame pairs whose scale rate has the sign of `sense` (+1 zoom in, -1 zoom out)
        and whose fit explains at least `min_explained` of their flow's variation."""
        return self._agreeing(self.scale_rates, sense, min_explained)

    def roll_fraction(self, sense: float, min_explained: float = 0.0) -> float:
        """Fraction of all frame pairs whose roll has the sign of `sense` (+1 clockwise, -1 counter)
        and whose fit explains at least `min_explained` of their flow's variation."""
        return self._agreeing(self.roll_rates_deg, sense, min_explained)

    def _agreeing(self, rates: tuple[float, ...], sense: float, min_explained: float) -> float:
        signs = np.sign(np.asarray(rates)) == np.sign(sense)
        return float(np.mean(signs & (np.asarray(self.explained) >= min_explained)))


@dataclass(frozen=True)
class PairFit:
    """The fit of one frame pair: w = c z + t, and the share of the flow's variation that c z explains."""

    c: complex
    t: complex
    explained: float
    """1 - residual / variation of the moving pixels' flow about its mean, in [0, 1]: how much of the way
    the flow differs across the frame the zoom-and-roll part accounts for (near 1 for a camera zoom or roll,
    near 0 for a sliding object or unrelated flicker)."""


def fit_pair(flow: np.ndarray, min_magnitude: float) -> PairFit | None:
    """The similarity fit of one frame pair's flow (H, W, 2); None when too few pixels move."""
    height, width = flow.shape[:2]
    u = flow[..., 0].astype(np.float64)
    v = flow[..., 1].astype(np.float64)
    moving = np.hypot(u, v) >= min_magnitude
    count = int(moving.sum())
    if count < max(MIN_FIT_PIXELS, MIN_FIT_FRACTION * height * width):
        return None
    ys, xs = np.nonzero(moving)
    z = (xs - (width - 1) / 2.0) + 1j * (ys - (height - 1) / 2.0)
    w = u[moving] + 1j * v[moving]
    z_mean, w_mean = z.mean(), w.mean()
    dz = z - z_mean
    spread = float(np.mean(np.abs(dz) ** 2))
    if not spread >= MIN_FIT_SPREAD:
        return None
    c = complex(np.sum(np.conj(dz) * (w - w_mean)) / np.sum(np.abs(dz) ** 2))
    t = complex(w_mean - c * z_mean)
    variation = float(np.sum(np.abs(w - w_mean) ** 2))
    residual = float(np.sum(np.abs(w - w_mean - c * dz) ** 2))
    explained = max(0.0, 1.0 - residual / variation) if variation > 0 else 0.0
    if not (math.isfinite(abs(c)) and math.isfinite(abs(t)) and math.isfinite(explained)):
        return None
    return PairFit(c, t, explained)


def fit_global_motion(flow: np.ndarray, min_magnitude: float) -> GlobalMotion | None:
    """The similarity motion of every frame pair of `flow` (P, H, W, 2); None when no pair can be fitted."""
    fits = [fit_pair(pair, min_magnitude) for pair in flow]
    if all(fit is None for fit in fits):
        return None
    still = PairFit(0j, 0j, 0.0)
    fits = [still if fit is None else fit for fit in fits]
    return GlobalMotion(
        translations=tuple((fit.t.real, fit.t.imag) for fit in fits),
        scale_rates=tuple(abs(1.0 + fit.c) - 1.0 for fit in fits),
        roll_rates_deg=tuple(math.degrees(math.atan2(fit.c.imag, 1.0 + fit.c.real)) for fit in fits),
        explained=tuple(fit.explained for fit in fits),
    )
