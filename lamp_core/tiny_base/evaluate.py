"""Checking a base model: sample images from captions, and measure whether they show what was asked."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import torch
from diffusers import DDIMScheduler, StableDiffusionPipeline

from lamp_core.synthetic import BACKGROUND_COLORS, OBJECT_COLORS, SHAPES
from lamp_core.synthetic.shapes import coverage, signed_distance

_CAPTION = re.compile(r"^an? (?P<color>.+?) (?P<shape>\w+) on a (?P<background>.+?) background$")


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


def describe_image(image: np.ndarray, min_pixels: int = 6) -> dict[str, str | None]:
    """Read back colour, shape and background of a rendered-style image (uint8 `(H, W, 3)`).

    The background is the median border colour; the object is every pixel far from it. The shape is the
    one whose mask, placed at the object's centroid with the object's area, overlaps the object best.
    Names are the nearest palette entries; `None` where no object is found.
    """
    pixels = image.astype(np.float64)
    border = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
    background = np.median(border, axis=0)
    mask = np.linalg.norm(pixels - background, axis=-1) > 60.0
    result: dict[str, str | None] = {"background": _nearest(background, BACKGROUND_COLORS)}
    if mask.sum() < min_pixels:
        return result | {"color": None, "shape": None}
    result["color"] = _nearest(np.median(pixels[mask], axis=0), OBJECT_COLORS)
    ys, xs = np.nonzero(mask)
    cx, cy = xs.mean() + 0.5, ys.mean() + 0.5
    grid_y, grid_x = np.mgrid[0 : image.shape[0], 0 : image.shape[1]] + 0.5
    overlaps = {}
    for shape, factor in _AREA_FACTORS.items():
        radius = np.sqrt(mask.sum() / factor)
        template = coverage(signed_distance(shape, grid_x - cx, grid_y - cy, radius)) > 0.5
        overlaps[shape] = (template & mask).sum() / max((template | mask).sum(), 1)
    result["shape"] = max(overlaps, key=overlaps.get)
    return result


def caption_fidelity(images: np.ndarray, captions: list[str]) -> dict[str, float]:
    """Share of images whose object colour, shape and background match their captions."""
    hits = {"color": 0, "shape": 0, "background": 0}
    for image, caption in zip(images, captions, strict=True):
        wanted = _CAPTION.match(caption)
        if wanted is None:
            raise ValueError(f"not a renderer caption: {caption!r}")
        seen = describe_image(image)
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
