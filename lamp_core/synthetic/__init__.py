"""Procedural renderer of the built-in example motions: textured scenes with 1-3 shapes, seen by a camera."""

from lamp_core.synthetic.motions import IN_VIEW_FRAMES, MOTIONS, RATE_RANGES, VIEW_FRAMES
from lamp_core.synthetic.render import render_background, render_clip, render_masks, sample_image
from lamp_core.synthetic.scene import (
    BACKGROUND_COLORS,
    OBJECT_COLORS,
    SHAPES,
    Scene,
    SceneObject,
    sample_scene,
)

__all__ = [
    "BACKGROUND_COLORS",
    "IN_VIEW_FRAMES",
    "MOTIONS",
    "OBJECT_COLORS",
    "RATE_RANGES",
    "SHAPES",
    "VIEW_FRAMES",
    "Scene",
    "SceneObject",
    "render_background",
    "render_clip",
    "render_masks",
    "sample_image",
    "sample_scene",
]
