"""Sizes and helpers shared by the sampling tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import torch
import yaml
from pipeline_settings import PARAMS

from lamp_core.model import LAMPUNet

# Frames of the tests: not square; latents 8 x 6 (the tiny VAE downsamples by 4).
WIDTH, HEIGHT = 32, 24


def randomize_motion(unet: LAMPUNet, seed: int, scale: float = 0.2) -> None:
    """Stand-in for tuning: non-trivial values for every motion weight."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for _, parameter in sorted(unet.motion_state_dict().items()):
            parameter.add_(torch.randn(parameter.shape, generator=generator) * scale)


def toy_params(base_dir: Path, eval_prompts: list[dict], generate: dict | None = None) -> dict:
    """A params.yaml for a toy project: motion slide_right at WIDTH x HEIGHT, 4 frames, on `base_dir`; the
    `model:` and `generate:` sections are the repository's, with 2 sampling steps."""
    return {
        "defaults": {
            "width": WIDTH,
            "height": HEIGHT,
            "fps": 8,
            "n_frames": 4,
            "sample_rate": 1,
            "min_clips": 1,
            "max_clip_seconds": 4,
        },
        "base": {"model": str(base_dir)},
        "motions": {"slide_right": {"prompt": "an object sliding right"}},
        "evaluation": {"slide_right": {"eval_prompts": eval_prompts}},
        "model": PARAMS["model"],
        "generate": PARAMS["generate"]
        | {"num_inference_steps": 2, "batch_size": 2, "first_frame_steps": 2, **(generate or {})},
    }


def toy_project(
    root: Path, base_dir: Path, motion_dir: Path, eval_prompts: list[dict], generate=None
) -> Path:
    """`root` with params.yaml and data/motions/slide_right (a copy of `motion_dir`); returns params.yaml."""
    shutil.copytree(motion_dir, root / "data" / "motions" / "slide_right")
    params = root / "params.yaml"
    params.write_text(yaml.safe_dump(toy_params(base_dir, eval_prompts, generate)), encoding="utf-8")
    return params
