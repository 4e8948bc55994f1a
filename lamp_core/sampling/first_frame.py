"""Where a video's first frame comes from: the renderer, a user's image, or a text-to-image model.

LAMP generates frames 2..f from a given first frame. This module turns a first-frame source into a
uint8 `(height, width, 3)` image at the video's size; `text_to_image.py` runs text-to-image models.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from lamp_core.errors import LampError
from lamp_core.synthetic import Scene, render_clip, sample_scene

if TYPE_CHECKING:
    from .text_to_image import TextToImage

FirstFrameKind = Literal["render", "image", "prompt"]


@dataclass(frozen=True)
class FirstFrameSpec:
    """A first-frame source: `render` (the renderer's scene from `seed`), `image` (a file at `path`), or
    `prompt` (a text-to-image model's image of `prompt`)."""

    kind: FirstFrameKind
    seed: int | None = None
    path: str | None = None
    prompt: str | None = None

    @classmethod
    def from_params(cls, entry: Any, where: str) -> FirstFrameSpec:
        """Parse `{render: {seed: int}}`, `{image: path}` or `{prompt: str}`; `where` names the entry."""
        if not isinstance(entry, Mapping) or len(entry) != 1:
            raise LampError(
                f"{where}: first_frame must be one of {{render: {{seed: N}}}}, {{image: PATH}}, "
                f"{{prompt: TEXT}}; got {entry!r}"
            )
        ((kind, value),) = entry.items()
        if kind == "render":
            seed = value.get("seed") if isinstance(value, Mapping) else None
            if not isinstance(seed, int) or isinstance(seed, bool):
                raise LampError(f"{where}: first_frame.render needs an integer seed, got {value!r}")
            return cls("render", seed=seed)
        if kind == "image":
            if not isinstance(value, str) or not value:
                raise LampError(f"{where}: first_frame.image must be a file path, got {value!r}")
            return cls("image", path=value)
        if kind == "prompt":
            if not isinstance(value, str) or not value.strip():
                raise LampError(f"{where}: first_frame.prompt must be non-empty text, got {value!r}")
            return cls("prompt", prompt=value)
        raise LampError(f"{where}: unknown first_frame source {kind!r} (render, image or prompt)")


@dataclass(frozen=True)
class FirstFrame:
    """A first frame at the video's size, and where it came from.

    source: `render`, `image:<path>` or `t2i:<model>`. scene: the renderer's scene when rendered (its
    `render_clip` is the frame's true continuation), else None.
    """

    image: np.ndarray
    source: str
    scene: Scene | None = None

    @property
    def scene_json(self) -> str:
        """The scene as JSON, or an empty string."""
        return "" if self.scene is None else json.dumps(self.scene.to_dict(), sort_keys=True)


def fit_image(image: Image.Image | np.ndarray, width: int, height: int) -> np.ndarray:
    """Resize to cover `width` x `height` (keeping the aspect ratio), then centre-crop: uint8 (H, W, 3)."""
    if isinstance(image, np.ndarray):
        image = Image.fromarray(np.asarray(image, dtype=np.uint8))
    image = image.convert("RGB")
    scale = max(width / image.width, height / image.height)
    resized_w = max(width, round(image.width * scale))
    resized_h = max(height, round(image.height * scale))
    if (resized_w, resized_h) != image.size:
        image = image.resize((resized_w, resized_h), Image.Resampling.LANCZOS)
    left, top = (resized_w - width) // 2, (resized_h - height) // 2
    return np.asarray(image.crop((left, top, left + width, top + height)), dtype=np.uint8).copy()


def load_image(path: str | Path, width: int, height: int) -> np.ndarray:
    """A user's image as a first frame: EXIF rotation applied, resized and centre-cropped to W x H."""
    path = Path(path)
    try:
        with Image.open(path) as opened:
            opened.load()
            image = ImageOps.exif_transpose(opened)
    except FileNotFoundError:
        raise LampError(f"{path}: no such image file") from None
    except IsADirectoryError:
        raise LampError(f"{path}: is a folder, not an image file") from None
    except UnidentifiedImageError:
        raise LampError(f"{path}: not an image file PIL can read") from None
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise LampError(f"{path}: cannot read the image ({exc})") from None
    return fit_image(image, width, height)


def render_first_frame(motion: str, seed: int, width: int, height: int) -> FirstFrame:
    """Frame 0 of a new random scene of built-in `motion` (the renderer's `sample_scene` from `seed`)."""
    try:
        scene = sample_scene(motion, np.random.default_rng(seed), width, height)
    except LampError as exc:
        raise LampError(f"first_frame.render for motion {motion!r}: {exc}") from None
    return FirstFrame(render_clip(scene, 1, width, height)[0], "render", scene)


def resolve_first_frames(
    specs: list[FirstFrameSpec],
    seeds: list[int],
    *,
    motion: str,
    width: int,
    height: int,
    text_to_image: Callable[[], TextToImage],
) -> list[FirstFrame]:
    """The first frame of each spec at W x H. `text_to_image` is called (once) only if a spec needs it;
    a prompt's image is generated with the video's seed. Text-to-image prompts run in one batch."""
    frames: list[FirstFrame | None] = []
    wanted: list[int] = []
    for index, spec in enumerate(specs):
        if spec.kind == "render":
            frames.append(render_first_frame(motion, int(spec.seed), width, height))
        elif spec.kind == "image":
            frames.append(FirstFrame(load_image(spec.path, width, height), f"image:{spec.path}"))
        else:
            frames.append(None)
            wanted.append(index)
    if wanted:
        model = text_to_image()
        images = model.generate([specs[i].prompt for i in wanted], [seeds[i] for i in wanted], width, height)
        for index, image in zip(wanted, images, strict=True):
            frames[index] = FirstFrame(image, f"t2i:{model.name}")
    return [frame for frame in frames if frame is not None]
