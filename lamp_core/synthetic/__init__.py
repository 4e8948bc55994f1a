"""Procedural renderer of the built-in example motions: coloured shapes moving on backgrounds."""

from lamp_core.synthetic.errors import SceneError
from lamp_core.synthetic.motions import MOTIONS, VIEW_FRAMES
from lamp_core.synthetic.palette import BACKGROUND_COLORS, OBJECT_COLORS
from lamp_core.synthetic.render import render_background, render_clip, render_masks, sample_image
from lamp_core.synthetic.scene import Scene, sample_scene
from lamp_core.synthetic.shapes import SHAPES

__all__ = [
    "BACKGROUND_COLORS",
    "MOTIONS",
    "OBJECT_COLORS",
    "SHAPES",
    "VIEW_FRAMES",
    "Scene",
    "SceneError",
    "render_background",
    "render_clip",
    "render_masks",
    "sample_image",
    "sample_scene",
]
