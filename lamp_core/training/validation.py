"""Validation videos during tuning: a short sample from the model as it is, to watch training progress.

One video per validation, sampled with LAMP's sampler from a fixed first frame, prompt and seed, so the
videos of successive validations differ only by what the model learned. Written as
`<folder>/step_0000200.mp4` and `.gif`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from lamp_core.errors import LampError
from lamp_core.model import LAMPUNet, SDBase
from lamp_core.sampling import SamplingConfig, sample_video
from lamp_core.video import write_video

# Fewer DDIM steps than the paper's 50: validation must not dominate the wall time of tuning.
DEFAULT_VALIDATION = {"num_inference_steps": 25}


@dataclass(frozen=True)
class ValidationSpec:
    """What every validation samples: first-frame latent (C, h, w), prompt, frames, fps, seed, settings."""

    first_frame: torch.Tensor
    prompt: str
    n_frames: int
    fps: float
    seed: int
    config: SamplingConfig

    @classmethod
    def from_settings(
        cls,
        first_frame: torch.Tensor,
        prompt: str,
        n_frames: int,
        fps: float,
        seed: int,
        settings: dict[str, Any],
    ) -> ValidationSpec:
        try:
            config = SamplingConfig.from_mapping({**DEFAULT_VALIDATION, **settings}, "tune.validation")
        except LampError as exc:
            raise LampError("params.yaml", str(exc)) from None
        return cls(first_frame, prompt, n_frames, fps, seed, config)


def validation_video_path(folder: str | Path, step: int) -> Path:
    """Where the validation video (mp4; a gif beside it) of `step` is written."""
    return Path(folder) / f"step_{step:07d}.mp4"


def write_validation_video(
    unet: LAMPUNet, base: SDBase, spec: ValidationSpec, folder: str | Path, step: int, device: torch.device
) -> Path:
    """Sample the validation video of `step` with `unet` (in eval mode) and write it; returns the mp4."""
    was_training = unet.training
    unet.eval()
    try:
        video = sample_video(
            unet,
            base,
            spec.prompt,
            spec.first_frame,
            seed=spec.seed,
            n_frames=spec.n_frames,
            config=spec.config,
            device=device,
        )
    finally:
        unet.train(was_training)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    mp4 = write_video(video, validation_video_path(folder, step), spec.fps)
    write_video(video, mp4.with_suffix(".gif"), spec.fps)
    return mp4
