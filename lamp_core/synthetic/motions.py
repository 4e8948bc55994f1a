"""The built-in motions: where the objects are at time t, and how the camera looks at the world.

Coordinates are pixels of the scene's canvas, x to the right and y downwards, pixel i spanning [i, i+1).
The world is the canvas at t=0. At frame t an object sits at `object_positions(...)` in the world and the
camera maps a world point w to the frame point `c + A_t (w - c)` (c the canvas centre, `camera_matrices`).

Each motion has one `rate`, in its own unit:

- `slide_right`, `slide_down`: the objects move over the static background, `rate` pixels per frame;
- `zoom_in`: the camera zooms in about the centre, the scale growing by `1 + rate` per frame;
- `roll`: the camera rotates about the centre, content turning clockwise on screen by `rate` degrees
  per frame;
- `orbit`: the objects turn clockwise about the scene's `pivot` by `rate` degrees per frame.
"""

from __future__ import annotations

import numpy as np

from lamp_core.errors import LampError

MOTIONS: tuple[str, ...] = ("slide_right", "slide_down", "zoom_in", "roll", "orbit")

# Clips of the examples are this long; scenes are sampled for it (training windows are 8 frames of them).
VIEW_FRAMES = 24

# Sliding and zoomed objects stay (mostly) in view, and the caption true, for this many first frames.
IN_VIEW_FRAMES = 16

CAMERA_MOTIONS = frozenset({"zoom_in", "roll"})
NEEDS_PIVOT: dict[str, bool] = {m: m == "orbit" for m in MOTIONS}

# The range each motion's rate is drawn from (units as in the module docstring; slides: fraction of the
# frame side along the slide, per frame).
RATE_RANGES: dict[str, tuple[float, float]] = {
    "slide_right": (0.04, 0.06),
    "slide_down": (0.04, 0.06),
    "zoom_in": (0.03, 0.05),
    "roll": (4.0, 7.0),
    "orbit": (11.5, 17.2),  # 0.2-0.3 radians per frame: about one turn in 21-31 frames
}


def check_motion(motion: str) -> None:
    """Raise LampError naming the known motions if `motion` is not one of them."""
    if motion not in MOTIONS:
        raise LampError(f"unknown motion {motion!r}; known motions: {', '.join(MOTIONS)}")


def sample_rate(motion: str, rng: np.random.Generator, width: int, height: int) -> float:
    """A random rate of `motion` in its unit (slides: pixels per frame of this canvas)."""
    low, high = RATE_RANGES[motion]
    rate = float(rng.uniform(low, high))
    if motion == "slide_right":
        return rate * width
    if motion == "slide_down":
        return rate * height
    return rate


def _rotation(degrees: np.ndarray) -> np.ndarray:
    # (..., 2, 2): with y pointing down, a positive angle turns +x towards +y, clockwise on screen.
    a = np.radians(degrees)
    cos, sin = np.cos(a), np.sin(a)
    return np.stack([np.stack([cos, -sin], -1), np.stack([sin, cos], -1)], -2)


def camera_matrices(motion: str, rate: float, times: np.ndarray) -> np.ndarray:
    """`A_t` of every time, `(*times.shape, 2, 2)`: frame offset from the centre = A_t @ world offset."""
    t = np.asarray(times, dtype=np.float64)
    if motion == "zoom_in":
        return (1.0 + rate) ** t[..., None, None] * np.eye(2)
    if motion == "roll":
        return _rotation(rate * t)
    return np.broadcast_to(np.eye(2), (*t.shape, 2, 2)).copy()


def object_positions(
    motion: str, rate: float, starts: np.ndarray, pivot: tuple[float, float] | None, times: np.ndarray
) -> np.ndarray:
    """World centres of objects starting at `starts` (N, 2) at `times`: `(*times.shape, N, 2)`."""
    t = np.asarray(times, dtype=np.float64)[..., None]  # (..., 1) against N objects
    starts = np.asarray(starts, dtype=np.float64)
    x, y = starts[:, 0], starts[:, 1]
    if motion == "slide_right":
        return np.stack([x + rate * t, np.broadcast_to(y, t.shape[:-1] + y.shape)], axis=-1)
    if motion == "slide_down":
        return np.stack([np.broadcast_to(x, t.shape[:-1] + x.shape), y + rate * t], axis=-1)
    if motion == "orbit":
        offset = starts - np.asarray(pivot, dtype=np.float64)
        turned = np.einsum("...ij,nj->...ni", _rotation(rate * t[..., 0]), offset)
        return np.asarray(pivot) + turned
    return np.broadcast_to(starts, (*t.shape[:-1], *starts.shape)).copy()


def _slide_start(rng: np.random.Generator, extent: float, radius: float, rate: float) -> float:
    # The centre stays in view for IN_VIEW_FRAMES frames, at most 30% of the radius leaving the frame.
    travel = rate * (IN_VIEW_FRAMES - 1)
    low, high = 0.3 * radius, extent - travel - 0.3 * radius
    if high < low:
        return float((extent - travel) / 2.0)
    return float(rng.uniform(low, high))


def sample_start(
    motion: str,
    rng: np.random.Generator,
    width: int,
    height: int,
    radius: float,
    rate: float,
    pivot: tuple[float, float] | None,
) -> tuple[float, float]:
    """A random start of an object of `radius` that keeps it (mostly) in view the way `motion` needs."""
    cx, cy = width / 2.0, height / 2.0
    if motion == "slide_right":
        return _slide_start(rng, width, radius, rate), float(rng.uniform(radius, height - radius))
    if motion == "slide_down":
        return float(rng.uniform(radius, width - radius)), _slide_start(rng, height, radius, rate)
    if motion == "zoom_in":
        # The centre stays in view for IN_VIEW_FRAMES frames as the view grows by (1 + rate) each.
        shrink = (1.0 + rate) ** (IN_VIEW_FRAMES - 1)
        ex, ey = max(min(cx - radius, cx / shrink), 0.0), max(min(cy - radius, cy / shrink), 0.0)
        return float(cx + rng.uniform(-ex, ex)), float(cy + rng.uniform(-ey, ey))
    if motion == "roll":
        # Within the circle that stays in view whatever the angle, uniformly over its area.
        reach = max(min(cx, cy) - radius, 0.0)
        distance, angle = reach * np.sqrt(rng.uniform()), rng.uniform(0.0, 2.0 * np.pi)
        return float(cx + distance * np.cos(angle)), float(cy + distance * np.sin(angle))
    if motion == "orbit":
        side = float(min(width, height))
        orbit_radius, phase = rng.uniform(0.18, 0.26) * side, rng.uniform(0.0, 2.0 * np.pi)
        return float(pivot[0] + orbit_radius * np.cos(phase)), float(pivot[1] + orbit_radius * np.sin(phase))
    raise LampError(f"unknown motion {motion!r}")


def sample_pivot(rng: np.random.Generator, width: int, height: int, radius: float) -> tuple[float, float]:
    """The point an orbit turns about: near the centre, leaving room for the orbit and the object."""
    side = float(min(width, height))
    room = max(side / 2.0 - 0.26 * side - radius, 0.0) * 0.5
    return float(width / 2.0 + rng.uniform(-room, room)), float(height / 2.0 + rng.uniform(-room, room))


def caption_frames(motion: str, rate: float) -> int:
    """How many first frames show the scene as its caption says: stills for pre-training come from them.

    Objects stay in view for IN_VIEW_FRAMES frames; a zoom stops once the view is 1.5x (objects would
    cover the background), a roll at 20 degrees (a square turned further looks like a diamond).
    """
    if motion == "zoom_in":
        return int(min(IN_VIEW_FRAMES, np.floor(np.log(1.5) / np.log1p(rate)) + 1))
    if motion == "roll":
        return int(min(IN_VIEW_FRAMES, np.floor(20.0 / rate) + 1))
    return IN_VIEW_FRAMES
