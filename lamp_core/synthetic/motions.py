"""The built-in motions: how each one samples an object's path and where the object is at time t.

A path is `(start, speed, pivot)`: the object's centre at t=0, its speed along the path in pixels per
frame, and (for motions that turn about a point) that point. Coordinates are pixels of the scene's
canvas, x to the right and y downwards, pixel i spanning [i, i+1).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from lamp_core.synthetic.errors import SceneError

MOTIONS: tuple[str, ...] = ("slide_right", "slide_down", "orbit")

# Paths are sampled so that the object stays (mostly) in view for this many frames.
VIEW_FRAMES = 24

Point = tuple[float, float]
Path = tuple[Point, float, Point | None]


def check_motion(motion: str) -> None:
    """Raise SceneError (a ValueError) naming the known motions if `motion` is not one of them."""
    if motion not in MOTIONS:
        raise SceneError(f"unknown motion {motion!r}; known motions: {', '.join(MOTIONS)}")


def _slide_speed(rng: np.random.Generator, extent: int) -> float:
    # A fraction of the canvas along the slide: it crosses most of the frame in VIEW_FRAMES frames.
    return float(rng.uniform(0.025, 0.04) * extent)


def _centred_start(rng: np.random.Generator, extent: int, radius: float, travel: float) -> float:
    # Centre the path along its axis; where the frame leaves room, jitter it within that room.
    slack = max((extent - 2.0 * radius - travel) / 2.0, 0.15 * radius)
    return float((extent - travel) / 2.0 + rng.uniform(-slack, slack))


def _sample_slide_right(rng: np.random.Generator, width: int, height: int, radius: float) -> Path:
    speed = _slide_speed(rng, width)
    x0 = _centred_start(rng, width, radius, speed * (VIEW_FRAMES - 1))
    y0 = float(rng.uniform(radius, height - radius))
    return (x0, y0), speed, None


def _slide_right_positions(start: Point, speed: float, pivot: Point | None, t: np.ndarray) -> np.ndarray:
    return np.stack([start[0] + speed * t, np.full_like(t, start[1])], axis=-1)


def _sample_slide_down(rng: np.random.Generator, width: int, height: int, radius: float) -> Path:
    speed = _slide_speed(rng, height)
    y0 = _centred_start(rng, height, radius, speed * (VIEW_FRAMES - 1))
    x0 = float(rng.uniform(radius, width - radius))
    return (x0, y0), speed, None


def _slide_down_positions(start: Point, speed: float, pivot: Point | None, t: np.ndarray) -> np.ndarray:
    return np.stack([np.full_like(t, start[0]), start[1] + speed * t], axis=-1)


def _sample_orbit(rng: np.random.Generator, width: int, height: int, radius: float) -> Path:
    side = float(min(width, height))
    orbit_radius = rng.uniform(0.18, 0.26) * side
    room = max(side / 2.0 - orbit_radius - radius, 0.0) * 0.5
    pivot = (width / 2.0 + rng.uniform(-room, room), height / 2.0 + rng.uniform(-room, room))
    angular_speed = rng.uniform(0.2, 0.3)  # radians per frame: about one turn in 21-31 frames
    phase = rng.uniform(0.0, 2.0 * np.pi)
    start = (pivot[0] + orbit_radius * np.cos(phase), pivot[1] + orbit_radius * np.sin(phase))
    return (
        (float(start[0]), float(start[1])),
        float(angular_speed * orbit_radius),
        (
            float(pivot[0]),
            float(pivot[1]),
        ),
    )


def _orbit_positions(start: Point, speed: float, pivot: Point | None, t: np.ndarray) -> np.ndarray:
    # Clockwise on screen: with y pointing down, a growing angle turns from +x towards +y.
    offset = np.subtract(start, pivot)
    orbit_radius = float(np.hypot(*offset))
    if orbit_radius == 0.0:
        return np.broadcast_to(np.asarray(start, dtype=np.float64), (*t.shape, 2)).copy()
    angle = np.arctan2(offset[1], offset[0]) + (speed / orbit_radius) * t
    return np.stack(
        [pivot[0] + orbit_radius * np.cos(angle), pivot[1] + orbit_radius * np.sin(angle)], axis=-1
    )


PATH_SAMPLERS: dict[str, Callable[[np.random.Generator, int, int, float], Path]] = {
    "slide_right": _sample_slide_right,
    "slide_down": _sample_slide_down,
    "orbit": _sample_orbit,
}

PATH_POSITIONS: dict[str, Callable[[Point, float, Point | None, np.ndarray], np.ndarray]] = {
    "slide_right": _slide_right_positions,
    "slide_down": _slide_down_positions,
    "orbit": _orbit_positions,
}

NEEDS_PIVOT: dict[str, bool] = {"slide_right": False, "slide_down": False, "orbit": True}
