"""First frames from a text-to-image model: the motion's own SD 1.x base, or any diffusers T2I pipeline.

The paper generates first frames with SD-XL; any model works. A pipeline other than the base renders
at its own native size and the image is then resized and centre-cropped to the video's W x H.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from diffusers import AutoPipelineForText2Image, DDIMScheduler, DiffusionPipeline, StableDiffusionPipeline
from torch import nn

from lamp_core.errors import LampError
from lamp_core.model import SDBase

from .first_frame import fit_image

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
