"""A synthetic scene: a textured background with 1-3 coloured shapes, a motion, and how to sample one."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from lamp_core.errors import LampError
from lamp_core.synthetic.motions import (
    NEEDS_PIVOT,
    camera_matrices,
    caption_frames,
    check_motion,
    object_positions,
    sample_pivot,
    sample_rate,
    sample_start,
)

# Named colours of the synthetic scenes: bright object colours, muted background colours.

OBJECT_COLORS: dict[str, tuple[int, int, int]] = {
    "red": (220, 40, 40),
    "orange": (245, 140, 30),
    "yellow": (240, 220, 40),
    "green": (50, 190, 70),
    "cyan": (40, 200, 220),
    "blue": (50, 90, 230),
    "purple": (150, 60, 210),
    "pink": (240, 120, 190),
    "white": (240, 240, 240),
}

BACKGROUND_COLORS: dict[str, tuple[int, int, int]] = {
    "black": (15, 15, 15),
    "dark blue": (20, 30, 85),
    "dark green": (20, 65, 35),
    "brown": (95, 60, 30),
    "gray": (110, 110, 110),
    "beige": (225, 210, 175),
}

# An object colour and a background are only paired when they are this far apart in RGB, so the object
# is always clearly visible (and its mask recoverable by colour).
MIN_CONTRAST = 140.0


def contrasting_backgrounds(color: str) -> list[str]:
    """Names of the backgrounds an object of colour `color` may be drawn on, in palette order."""
    rgb = np.asarray(OBJECT_COLORS[color], dtype=np.float64)
    return [
        name
        for name, bg in BACKGROUND_COLORS.items()
        if np.linalg.norm(rgb - np.asarray(bg, dtype=np.float64)) >= MIN_CONTRAST
    ]


# Shapes as signed distance functions, and their anti-aliased pixel coverage.

SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "diamond")

_SQRT3 = np.sqrt(3.0)


def signed_distance(shape: str, dx: np.ndarray, dy: np.ndarray, radius: float) -> np.ndarray:
    """Signed distance (negative inside) from offsets `(dx, dy)` to a shape centred at the origin.

    `radius` is the shape's nominal size; every shape is scaled to cover roughly the area of a circle
    of that radius. Polygons use the maximum of their edge distances: exact near edges, which is all
    that anti-aliasing needs.
    """
    if shape == "circle":
        return np.hypot(dx, dy) - radius
    if shape == "square":
        return np.maximum(np.abs(dx), np.abs(dy)) - np.float32(0.886 * radius)
    if shape == "diamond":
        return (np.abs(dx) + np.abs(dy) - 1.25 * radius) / np.sqrt(2.0)
    if shape == "triangle":
        # Equilateral, pointing up (y grows downwards), centroid at the origin, circumradius r.
        r = 1.3 * radius
        sides = (_SQRT3 * np.abs(dx) - dy - r) / 2.0
        return np.maximum(sides, dy - r / 2.0)
    raise ValueError(f"unknown shape {shape!r}; known shapes: {', '.join(SHAPES)}")


def coverage(distance_px: np.ndarray) -> np.ndarray:
    """Fraction of each pixel covered by the shape, from signed distances in output pixels."""
    return np.clip(0.5 - distance_px, 0.0, 1.0).astype(np.float32)


MAX_OBJECTS = 3
RADIUS_RANGE = (0.10, 0.20)  # an object's nominal half-size, as a fraction of the frame's shorter side
WAVELENGTH_RANGE = (0.25, 0.6)  # of the texture's sinusoids, as a fraction of the frame's shorter side
TEXTURE_STRENGTH = (0.6, 0.9)  # the largest share of the texture colour blended into the background


@dataclass(frozen=True)
class SceneObject:
    """One shape of one colour; `start` is its centre at t=0 in canvas pixels."""

    shape: str
    color: str
    radius: float  # nominal half-size, pixels
    start: tuple[float, float]

    def __post_init__(self) -> None:
        if self.shape not in SHAPES:
            raise LampError(f"unknown shape {self.shape!r}; known shapes: {', '.join(SHAPES)}")
        if self.color not in OBJECT_COLORS:
            raise LampError(f"unknown object colour {self.color!r}; known: {', '.join(OBJECT_COLORS)}")
        if not (math.isfinite(self.radius) and self.radius > 0):
            raise LampError(f"object radius must be a positive number, got {self.radius}")
        if not all(math.isfinite(v) for v in self.start):
            raise LampError(f"object start must be finite, got {self.start}")

    @property
    def words(self) -> str:
        """'a red circle', 'an orange square'."""
        return f"{'an' if self.color[0] in 'aeiou' else 'a'} {self.color} {self.shape}"


@dataclass(frozen=True)
class Scene:
    """A static world (textured background, objects) seen by a camera while `motion` plays at `rate`.

    Positions are in pixels of the `width` x `height` canvas the scene was sampled for (x right, y down,
    pixel i spans [i, i+1)); rendering at another size scales the scene to fit. The background is the
    palette colour `background`, blended towards `texture` by `S**2 / sum(a)` where
    `S = sum(a * (1 + sin(2 pi (fx x + fy y) + p)) / 2)` over `waves` `(fx, fy, p, a)` (cycles per pixel,
    radians, share; `sum(a)` is the largest share), times a vertical brightness `gradient`. `rate` is in
    the motion's unit (see `lamp_core.synthetic.motions`).
    """

    motion: str
    width: int
    height: int
    background: str
    objects: tuple[SceneObject, ...]
    rate: float
    texture: str
    waves: tuple[tuple[float, float, float, float], ...] = ()
    gradient: float = 0.0  # background brightness change from top to bottom, as a fraction
    pivot: tuple[float, float] | None = None  # the point an orbit turns about

    def __post_init__(self) -> None:
        check_motion(self.motion)
        for name in ("background", "texture"):
            value = getattr(self, name)
            if value not in BACKGROUND_COLORS:
                raise LampError(f"unknown {name} colour {value!r}; known: {', '.join(BACKGROUND_COLORS)}")
        if self.width < 1 or self.height < 1:
            raise LampError(f"scene canvas must be at least 1x1 pixels, got {self.width}x{self.height}")
        if not 1 <= len(self.objects) <= MAX_OBJECTS:
            raise LampError(f"a scene holds 1 to {MAX_OBJECTS} objects, got {len(self.objects)}")
        if not all(isinstance(o, SceneObject) for o in self.objects):
            raise LampError("scene objects must be SceneObject instances")
        if not math.isfinite(self.rate):
            raise LampError(f"scene rate must be finite, got {self.rate}")
        if (self.pivot is None) == NEEDS_PIVOT[self.motion]:
            need = "needs" if NEEDS_PIVOT[self.motion] else "takes no"
            raise LampError(f"motion {self.motion!r} {need} pivot, got pivot={self.pivot}")

    @property
    def caption(self) -> str:
        """What the scene shows, e.g. 'a red circle and a blue square on a beige background'."""
        return f"{' and '.join(o.words for o in self.objects)} on a {self.background} background"

    @property
    def caption_frames(self) -> int:
        """How many first frames show what the caption says (see `motions.caption_frames`)."""
        return caption_frames(self.motion, self.rate)

    def positions(self, times: np.ndarray) -> np.ndarray:
        """World centres of the objects at `times` (frames, any shape): `(*times.shape, n_objects, 2)`."""
        starts = np.asarray([o.start for o in self.objects], dtype=np.float64)
        return object_positions(self.motion, self.rate, starts, self.pivot, np.asarray(times, np.float64))

    def camera(self, times: np.ndarray) -> np.ndarray:
        """The camera's `A_t`, `(*times.shape, 2, 2)`: frame offset from the centre = A_t @ world offset."""
        return camera_matrices(self.motion, self.rate, np.asarray(times, dtype=np.float64))

    def screen_positions(self, times: np.ndarray) -> np.ndarray:
        """Where the objects' centres appear in the frame at `times`: `(*times.shape, n_objects, 2)`."""
        centre = np.asarray([self.width / 2.0, self.height / 2.0])
        world = self.positions(times)
        return centre + np.einsum("...ij,...nj->...ni", self.camera(times), world - centre)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict; `Scene.from_dict` inverts it exactly."""
        return {
            "motion": self.motion,
            "width": self.width,
            "height": self.height,
            "background": self.background,
            "objects": [
                {"shape": o.shape, "color": o.color, "radius": o.radius, "start": list(o.start)}
                for o in self.objects
            ],
            "rate": self.rate,
            "texture": self.texture,
            "waves": [list(w) for w in self.waves],
            "gradient": self.gradient,
            "pivot": None if self.pivot is None else list(self.pivot),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Scene:
        """Rebuild a scene from `to_dict` output; raises LampError naming a missing, unknown or bad field."""
        if not isinstance(data, dict):
            raise LampError(f"a scene must be a mapping, got {type(data).__name__}")
        _check_keys(data, {f.name for f in fields(cls)}, {"pivot", "waves", "gradient"}, "scene")
        objects = data["objects"]
        if not isinstance(objects, list | tuple):
            raise LampError(f"malformed scene field objects: expected a list, got {objects!r}")
        waves = data.get("waves", [])
        if not isinstance(waves, list | tuple):
            raise LampError(f"malformed scene field waves: expected a list, got {waves!r}")
        pivot = data.get("pivot")
        return cls(
            motion=_field(data, "motion", str),
            width=_field(data, "width", _integer),
            height=_field(data, "height", _integer),
            background=_field(data, "background", str),
            objects=tuple(_object(o, i) for i, o in enumerate(objects)),
            rate=_field(data, "rate", _number),
            texture=_field(data, "texture", str),
            waves=tuple(_field({"waves": w}, "waves", _wave) for w in waves),
            gradient=_field(data, "gradient", _number) if "gradient" in data else 0.0,
            pivot=None if pivot is None else _field(data, "pivot", _point),
        )


def _check_keys(data: dict[str, Any], names: set[str], optional: set[str], what: str) -> None:
    unknown = sorted(set(data) - names)
    if unknown:
        raise LampError(f"unknown {what} fields: {', '.join(map(str, unknown))}")
    missing = sorted(names - optional - set(data))
    if missing:
        raise LampError(f"{what} lacks fields: {', '.join(missing)}")


def _field(data: dict[str, Any], name: str, parse: Any) -> Any:
    try:
        return parse(data[name])
    except (TypeError, ValueError) as exc:
        if isinstance(exc, LampError):
            raise
        raise LampError(f"malformed scene field {name}: {data[name]!r} ({exc})") from None


def _object(data: Any, index: int) -> SceneObject:
    if not isinstance(data, dict):
        raise LampError(f"malformed scene field objects[{index}]: expected a mapping, got {data!r}")
    _check_keys(data, {f.name for f in fields(SceneObject)}, set(), f"objects[{index}]")
    return SceneObject(
        shape=_field(data, "shape", str),
        color=_field(data, "color", str),
        radius=_field(data, "radius", _number),
        start=_field(data, "start", _point),
    )


def _integer(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("expected an integer")
    return int(value)


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError("expected a number")
    return float(value)


def _point(value: Any) -> tuple[float, float]:
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise TypeError("expected [x, y]")
    return _number(value[0]), _number(value[1])


def _wave(value: Any) -> tuple[float, float, float, float]:
    if not isinstance(value, list | tuple) or len(value) != 4:
        raise TypeError("expected [fx, fy, phase, amplitude]")
    fx, fy, phase, amplitude = (_number(v) for v in value)
    return fx, fy, phase, amplitude


def _segment_distance(point: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    # Distance from `point` to the segment a..b (colours in RGB).
    ab = b - a
    t = np.clip(np.dot(point - a, ab) / max(np.dot(ab, ab), 1e-9), 0.0, 1.0)
    return float(np.linalg.norm(point - (a + t * ab)))


def _texture_colors(background: str, colors: list[str]) -> list[str]:
    # Second background colours whose blend with `background` stays far from every object colour, and
    # differs from it enough to be seen but not so much that it dominates.
    base = np.asarray(BACKGROUND_COLORS[background], dtype=np.float64)
    chosen = []
    for name, rgb in BACKGROUND_COLORS.items():
        rgb = np.asarray(rgb, dtype=np.float64)
        if name == background or not 70.0 <= np.linalg.norm(rgb - base) <= 170.0:
            continue
        strongest = base + TEXTURE_STRENGTH[1] * (rgb - base)
        if all(
            _segment_distance(np.asarray(OBJECT_COLORS[c], np.float64), base, strongest) >= 100.0
            for c in colors
        ):
            chosen.append(name)
    return chosen


def _sample_waves(rng: np.random.Generator, side: float) -> tuple[tuple[float, float, float, float], ...]:
    n = int(rng.integers(2, 4))
    strength = rng.uniform(*TEXTURE_STRENGTH)
    weights = rng.uniform(0.5, 1.0, size=n)
    weights = weights / weights.sum() * strength
    waves = []
    for weight in weights:
        wavelength = rng.uniform(*WAVELENGTH_RANGE) * side
        angle, phase = rng.uniform(0.0, np.pi), rng.uniform(0.0, 2.0 * np.pi)
        fx, fy = np.cos(angle) / wavelength, np.sin(angle) / wavelength
        waves.append((float(fx), float(fy), float(phase), float(weight)))
    return tuple(waves)


def _apart(start: tuple[float, float], radius: float, placed: list[SceneObject]) -> bool:
    # Objects never touch: their centres are further apart than 1.3x the sum of their nominal sizes
    # (a triangle's corner reaches 1.3 radii from its centre).
    return all(math.dist(start, o.start) >= 1.3 * (radius + o.radius) for o in placed)


def sample_scene(motion: str, rng: np.random.Generator, width: int, height: int) -> Scene:
    """A random scene of `motion` on a `width` x `height` canvas: background, texture, 1-3 objects, rate.

    Deterministic given the state of `rng`. Objects of distinct colours, each contrasting with the
    background, never overlap; an `orbit` scene holds one object. Slides and zooms keep the objects
    (mostly) in view for the first 16 frames, a roll for every frame.
    """
    check_motion(motion)
    side = float(min(width, height))
    background = list(BACKGROUND_COLORS)[rng.integers(len(BACKGROUND_COLORS))]
    palette = [c for c in OBJECT_COLORS if background in contrasting_backgrounds(c)]
    n_objects = 1 if motion == "orbit" else int(rng.integers(1, MAX_OBJECTS + 1))
    colors = [palette[i] for i in rng.permutation(len(palette))[:n_objects]]
    rate = sample_rate(motion, rng, width, height)
    pivot = sample_pivot(rng, width, height, RADIUS_RANGE[1] * side) if motion == "orbit" else None
    objects: list[SceneObject] = []
    for color in colors:
        shape = SHAPES[rng.integers(len(SHAPES))]
        radius = float(rng.uniform(*RADIUS_RANGE) * side)
        for _ in range(30):  # an object with no room left is dropped
            start = sample_start(motion, rng, width, height, radius, rate, pivot)
            if _apart(start, radius, objects):
                objects.append(SceneObject(shape, color, radius, start))
                break
    textures = _texture_colors(background, [o.color for o in objects])
    texture = textures[rng.integers(len(textures))] if textures else background
    return Scene(
        motion=motion,
        width=int(width),
        height=int(height),
        background=background,
        objects=tuple(objects),
        rate=rate,
        texture=texture,
        waves=_sample_waves(rng, side),
        gradient=float(rng.uniform(-0.25, 0.25)),
        pivot=pivot,
    )
