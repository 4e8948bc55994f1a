"""Checking a base model: sample images from captions, and measure whether they show what was asked."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from diffusers import DDIMScheduler, StableDiffusionPipeline

from lamp_core.synthetic import BACKGROUND_COLORS, OBJECT_COLORS, SHAPES
from lamp_core.synthetic.scene import coverage, signed_distance

_CAPTION = re.compile(r"^(?P<objects>.+?) on a (?P<background>.+?) background$")
_OBJECT = re.compile(r"^an? (?P<color>\S+) (?P<shape>\w+)$")

# A pixel shows an object colour when it is this close to the palette entry (and closer to it than to any
# other palette colour): anti-aliased edges and the background's texture do not count.
COLOR_RADIUS = 60.0


def load_pipeline(components_or_path: dict[str, Any] | str | Path) -> StableDiffusionPipeline:
    """A DDIM text-to-image pipeline from in-memory components or a saved folder."""
    if isinstance(components_or_path, dict):
        parts = {k: components_or_path[k] for k in ("vae", "text_encoder", "tokenizer", "unet", "scheduler")}
        pipeline = StableDiffusionPipeline(
            **parts, safety_checker=None, feature_extractor=None, requires_safety_checker=False
        )
    else:
        pipeline = StableDiffusionPipeline.from_pretrained(str(components_or_path), safety_checker=None)
    pipeline.scheduler = DDIMScheduler.from_config(pipeline.scheduler.config)
    pipeline.set_progress_bar_config(disable=True)
    return pipeline


def sample_images(
    pipeline: StableDiffusionPipeline,
    captions: list[str],
    seed: int = 0,
    steps: int = 25,
    guidance_scale: float = 5.0,
) -> np.ndarray:
    """One image per caption, uint8 `(N, H, W, 3)`, by DDIM (eta 0) with classifier-free guidance."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        images = pipeline(
            captions,
            num_inference_steps=steps,
            guidance_scale=guidance_scale,
            generator=generator,
            output_type="np",
        ).images
    return np.rint(images * 255.0).astype(np.uint8)


def _nearest(color: np.ndarray, palette: dict[str, tuple[int, int, int]]) -> str:
    names = list(palette)
    distances = np.linalg.norm(np.asarray([palette[n] for n in names], dtype=np.float64) - color, axis=-1)
    return names[int(np.argmin(distances))]


def _shape_area_factors(side: int = 256) -> dict[str, float]:
    # Area of each shape as a multiple of radius**2, measured once on a fine grid.
    radius = side / 4.0
    grid = np.arange(side) + 0.5 - side / 2.0
    dx, dy = grid[None, :], grid[:, None]
    return {s: float(coverage(signed_distance(s, dx, dy, radius)).sum() / radius**2) for s in SHAPES}


_AREA_FACTORS = _shape_area_factors()


def parse_caption(caption: str) -> tuple[list[tuple[str, str]], str]:
    """The `(colour, shape)` of each object a renderer caption names, in order, and its background."""
    match = _CAPTION.match(caption)
    objects = [_OBJECT.match(words) for words in match["objects"].split(" and ")] if match else [None]
    if match is None or None in objects:
        raise ValueError(f"not a renderer caption: {caption!r}")
    return [(m["color"], m["shape"]) for m in objects], match["background"]


def _color_masks(pixels: np.ndarray) -> dict[str, np.ndarray]:
    # For each object colour, the pixels that show it (see COLOR_RADIUS).
    palette = {**OBJECT_COLORS, **BACKGROUND_COLORS}
    names = list(palette)
    rgb = np.asarray([palette[n] for n in names], dtype=np.float64)
    distances = np.linalg.norm(pixels[..., None, :] - rgb, axis=-1)  # (H, W, n_colours)
    nearest = np.argmin(distances, axis=-1)
    close = np.min(distances, axis=-1) <= COLOR_RADIUS
    return {name: close & (nearest == i) for i, name in enumerate(names) if name in OBJECT_COLORS}


def _largest_blob(mask: np.ndarray) -> np.ndarray:
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if count <= 1:
        return mask
    return labels == 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))


def _shape_of(mask: np.ndarray) -> str:
    # The shape whose mask, placed at the blob's centroid with the blob's area, overlaps it best.
    ys, xs = np.nonzero(mask)
    cx, cy = xs.mean() + 0.5, ys.mean() + 0.5
    grid_y, grid_x = np.mgrid[0 : mask.shape[0], 0 : mask.shape[1]] + 0.5
    overlaps = {}
    for shape, factor in _AREA_FACTORS.items():
        radius = np.sqrt(mask.sum() / factor)
        template = coverage(signed_distance(shape, grid_x - cx, grid_y - cy, radius)) > 0.5
        overlaps[shape] = (template & mask).sum() / max((template | mask).sum(), 1)
    return max(overlaps, key=overlaps.get)


def describe_image(image: np.ndarray, color: str | None = None, min_pixels: int = 6) -> dict[str, str | None]:
    """Read back background, an object's colour and its shape from a rendered-style image (uint8 (H, W, 3)).

    The background is the palette background nearest the median of the pixels that show no object
    colour. The object is the one of colour `color` when at least `min_pixels` pixels show it, else the
    most shown object colour; its shape is read from its largest connected blob. `None` where no object
    colour is shown.
    """
    pixels = image.astype(np.float64)
    masks = _color_masks(pixels)
    objects = np.any(list(masks.values()), axis=0)
    rest = pixels[~objects] if (~objects).sum() >= min_pixels else pixels.reshape(-1, 3)
    result: dict[str, str | None] = {"background": _nearest(np.median(rest, axis=0), BACKGROUND_COLORS)}
    shown = {name: int(mask.sum()) for name, mask in masks.items() if mask.sum() >= min_pixels}
    if not shown:
        return result | {"color": None, "shape": None}
    found = color if color in shown else max(shown, key=shown.get)
    return result | {"color": found, "shape": _shape_of(_largest_blob(masks[found]))}


def caption_fidelity(images: np.ndarray, captions: list[str]) -> dict[str, float]:
    """Share of images that show their caption's background, and its first-named object's colour and shape."""
    hits = {"color": 0, "shape": 0, "background": 0}
    for image, caption in zip(images, captions, strict=True):
        objects, background = parse_caption(caption)
        wanted = {"color": objects[0][0], "shape": objects[0][1], "background": background}
        seen = describe_image(image, color=wanted["color"])
        for key in hits:
            hits[key] += int(seen[key] == wanted[key])
    return {f"{key}_accuracy": count / len(captions) for key, count in hits.items()}


def image_grid(images: np.ndarray, columns: int) -> np.ndarray:
    """Tile uint8 images `(N, H, W, 3)` into one `(rows * H, columns * W, 3)` image (blank-padded)."""
    n, h, w, c = images.shape
    rows = -(-n // columns)
    padded = np.zeros((rows * columns, h, w, c), dtype=images.dtype)
    padded[:n] = images
    return padded.reshape(rows, columns, h, w, c).transpose(0, 2, 1, 3, 4).reshape(rows * h, columns * w, c)
