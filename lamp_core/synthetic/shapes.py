"""Shapes as signed distance functions, and their anti-aliased pixel coverage."""

from __future__ import annotations

import numpy as np

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
