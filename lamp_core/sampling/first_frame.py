"""Where a video's first frame comes from: the renderer, a user's image, or a text-to-image model.

LAMP generates frames 2..f from a given first frame. This module turns a first-frame source into a
uint8 `(height, width, 3)` image at the video's size; `TextToImage` (below) runs text-to-image models.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from diffusers import AutoPipelineForText2Image, DDIMScheduler, DiffusionPipeline, StableDiffusionPipeline
from PIL import Image, ImageOps, UnidentifiedImageError
from torch import nn

from lamp_core.errors import LampError
from lamp_core.model import SDBase
from lamp_core.synthetic import Scene, render_clip, sample_scene

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


# First frames from a text-to-image model: the motion's own SD 1.x base, or any diffusers T2I pipeline.
#
# The paper generates first frames with SD-XL; any model works. A pipeline other than the base renders
# at its own native size and the image is then resized and centre-cropped to the video's W x H.

_LOAD_ERRORS = (OSError, ValueError, RuntimeError, KeyError, TypeError, ImportError)


class TextToImage:
    """A diffusers text-to-image pipeline that makes first frames at a video's size.

    name: shown in `first_frame_source` (`t2i:<name>`). at_target_size: render directly at W x H (the
    SD 1.x base, trained at that size) instead of at the pipeline's native size.
    """

    def __init__(
        self,
        pipeline: DiffusionPipeline,
        name: str,
        *,
        at_target_size: bool,
        steps: int = 50,
        guidance_scale: float = 7.5,
        negative_prompt: str = "",
    ) -> None:
        self.pipeline = pipeline
        self.name = name
        self.at_target_size = at_target_size
        self.steps = steps
        self.guidance_scale = guidance_scale
        self.negative_prompt = negative_prompt
        pipeline.set_progress_bar_config(disable=True)

    @classmethod
    def from_base(cls, base: SDBase, **settings) -> TextToImage:
        """The motion's own base as a DDIM text-to-image pipeline (shares its components, no copy).

        Call it before inflating `base.unet`: LAMP inflation changes the UNet in place.
        """
        if not isinstance(base.unet.conv_in, nn.Conv2d):
            raise LampError(
                f"{base.source}: its UNet is already inflated into a video UNet; make first frames with the "
                "base before inflating it (or load the base again)"
            )
        pipeline = StableDiffusionPipeline(
            vae=base.vae,
            text_encoder=base.text_encoder,
            tokenizer=base.tokenizer,
            unet=base.unet,
            scheduler=DDIMScheduler.from_config(base.scheduler_config),
            safety_checker=None,
            feature_extractor=None,
            requires_safety_checker=False,
        )
        return cls(pipeline, base.source, at_target_size=True, **settings)

    @classmethod
    def load(
        cls,
        source: str | Path,
        *,
        device: torch.device | str = "cpu",
        dtype: torch.dtype | None = None,
        cpu_offload: bool = False,
        local_files_only: bool = False,
        **settings,
    ) -> TextToImage:
        """Any diffusers text-to-image pipeline (SD 1.x/2.x, SD-XL, ...) from a folder or a hub id."""
        text = str(source)
        if Path(text).expanduser().is_file():
            raise LampError(
                f"{text}: a single checkpoint file; a first-frame model must be a diffusers folder or hub id"
            )
        try:
            pipeline = AutoPipelineForText2Image.from_pretrained(
                text, torch_dtype=dtype, local_files_only=local_files_only
            )
        except _LOAD_ERRORS as exc:
            reason = (str(exc).strip() or type(exc).__name__).splitlines()[0][:300]
            raise LampError(f"{text}: cannot load it as a text-to-image pipeline ({reason})") from None
        if cpu_offload and torch.device(device).type != "cpu":
            pipeline.enable_model_cpu_offload(device=device)
        else:
            pipeline.to(device)
        return cls(pipeline, text, at_target_size=False, **settings)

    def generate(self, prompts: list[str], seeds: list[int], width: int, height: int) -> list[np.ndarray]:
        """One uint8 (height, width, 3) image per prompt, each from its own seed."""
        generators = [torch.Generator().manual_seed(int(seed)) for seed in seeds]
        size = {"width": width, "height": height} if self.at_target_size else {}
        try:
            with torch.no_grad():
                images = self.pipeline(
                    prompts,
                    negative_prompt=[self.negative_prompt] * len(prompts) if self.negative_prompt else None,
                    num_inference_steps=self.steps,
                    guidance_scale=self.guidance_scale,
                    generator=generators,
                    output_type="np",
                    **size,
                ).images
        except (RuntimeError, ValueError) as exc:
            reason = (str(exc).strip() or type(exc).__name__).splitlines()[0][:300]
            raise LampError(f"{self.name}: text-to-image generation failed ({reason})") from None
        pixels = np.rint(np.asarray(images) * 255.0).clip(0, 255).astype(np.uint8)
        return [fit_image(image, width, height) for image in pixels]
