"""A synthetic scene: one coloured shape moving on a background, and how to sample one."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

from lamp_core.synthetic.errors import SceneError
from lamp_core.synthetic.motions import NEEDS_PIVOT, PATH_POSITIONS, PATH_SAMPLERS, check_motion
from lamp_core.synthetic.palette import BACKGROUND_COLORS, OBJECT_COLORS, contrasting_backgrounds
from lamp_core.synthetic.shapes import SHAPES


@dataclass(frozen=True)
class Scene:
    """One shape of one colour on a background, moving along a motion's path.

    Positions are in pixels of the `width` x `height` canvas the scene was sampled for (x right, y down,
    pixel i spans [i, i+1)); rendering at another size scales the scene to fit.
    """

    motion: str
    shape: str
    color: str
    background: str
    width: int
    height: int
    radius: float  # nominal half-size of the shape, pixels
    start: tuple[float, float]  # centre of the shape at t=0
    speed: float  # pixels per frame along the path
    pivot: tuple[float, float] | None = None  # the point an orbit turns about
    gradient: float = 0.0  # background brightness change from top to bottom, as a fraction

    def __post_init__(self) -> None:
        check_motion(self.motion)
        if self.shape not in SHAPES:
            raise SceneError(f"unknown shape {self.shape!r}; known shapes: {', '.join(SHAPES)}")
        if self.color not in OBJECT_COLORS:
            raise SceneError(f"unknown object colour {self.color!r}; known: {', '.join(OBJECT_COLORS)}")
        if self.background not in BACKGROUND_COLORS:
            known = ", ".join(BACKGROUND_COLORS)
            raise SceneError(f"unknown background {self.background!r}; known: {known}")
        if self.width < 1 or self.height < 1:
            raise SceneError(f"scene canvas must be at least 1x1 pixels, got {self.width}x{self.height}")
        if not (math.isfinite(self.radius) and self.radius > 0):
            raise SceneError(f"scene radius must be a positive number, got {self.radius}")
        if (self.pivot is None) == NEEDS_PIVOT[self.motion]:
            need = "needs" if NEEDS_PIVOT[self.motion] else "takes no"
            raise SceneError(f"motion {self.motion!r} {need} pivot, got pivot={self.pivot}")

    @property
    def caption(self) -> str:
        """What the scene shows, e.g. 'a red circle on a dark blue background'."""
        article = "an" if self.color[0] in "aeiou" else "a"
        return f"{article} {self.color} {self.shape} on a {self.background} background"

    def positions(self, times: np.ndarray) -> np.ndarray:
        """Centres of the shape at `times` (frames, any shape), as an array of shape `(*times.shape, 2)`."""
        t = np.asarray(times, dtype=np.float64)
        return PATH_POSITIONS[self.motion](self.start, self.speed, self.pivot, t)

    def position_at(self, t: float) -> tuple[float, float]:
        """Centre `(x, y)` of the shape at frame `t`, in pixels."""
        x, y = self.positions(np.asarray(float(t)))
        return float(x), float(y)

    def velocity_at(self, t: float) -> tuple[float, float]:
        """Ground-truth displacement `(dx, dy)` of the shape from frame `t` to frame `t + 1`, in pixels."""
        (x0, y0), (x1, y1) = self.positions(np.asarray([float(t), float(t) + 1.0]))
        return float(x1 - x0), float(y1 - y0)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict; `Scene.from_dict` inverts it."""
        data = asdict(self)
        data["start"] = list(self.start)
        data["pivot"] = None if self.pivot is None else list(self.pivot)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Scene:
        """Rebuild a scene from `to_dict` output; raises SceneError on missing, unknown or bad fields."""
        if not isinstance(data, dict):
            raise SceneError(f"a scene must be a mapping, got {type(data).__name__}")
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise SceneError(f"unknown scene fields: {', '.join(unknown)}")
        required = {f.name for f in fields(cls) if f.name not in ("pivot", "gradient")}
        missing = sorted(required - set(data))
        if missing:
            raise SceneError(f"scene lacks fields: {', '.join(missing)}")
        try:
            pivot = data.get("pivot")
            return cls(
                motion=str(data["motion"]),
                shape=str(data["shape"]),
                color=str(data["color"]),
                background=str(data["background"]),
                width=int(data["width"]),
                height=int(data["height"]),
                radius=float(data["radius"]),
                start=_point(data["start"]),
                speed=float(data["speed"]),
                pivot=None if pivot is None else _point(pivot),
                gradient=float(data.get("gradient", 0.0)),
            )
        except (TypeError, ValueError) as exc:
            if isinstance(exc, SceneError):
                raise
            raise SceneError(f"malformed scene field: {exc}") from None


def _point(value: Any) -> tuple[float, float]:
    x, y = value  # a 2-sequence; anything else raises TypeError/ValueError
    return float(x), float(y)


def sample_scene(motion: str, rng: np.random.Generator, width: int, height: int) -> Scene:
    """A random scene of `motion` on a `width` x `height` canvas: shape, colours, size, path, background.

    Deterministic given the state of `rng`. The path keeps the shape (mostly) in view for 24 frames.
    """
    check_motion(motion)
    shape = SHAPES[rng.integers(len(SHAPES))]
    colors = list(OBJECT_COLORS)
    color = colors[rng.integers(len(colors))]
    backgrounds = contrasting_backgrounds(color)
    background = backgrounds[rng.integers(len(backgrounds))]
    radius = float(rng.uniform(0.12, 0.19) * min(width, height))
    gradient = float(rng.uniform(-0.25, 0.25))
    start, speed, pivot = PATH_SAMPLERS[motion](rng, width, height, radius)
    return Scene(
        motion=motion,
        shape=shape,
        color=color,
        background=background,
        width=int(width),
        height=int(height),
        radius=radius,
        start=start,
        speed=speed,
        pivot=pivot,
        gradient=gradient,
    )
