"""The video model for sampling: a base inflated as a motion artifact says, with or without its motion."""

from __future__ import annotations

from pathlib import Path

import torch

from lamp_core.model import (
    InflationConfig,
    LAMPUNet,
    MotionArtifactConfig,
    SDBase,
    load_motion,
    read_motion_config,
)


def build_video_unet(base: SDBase, inflation: InflationConfig, *, seed: int = 0) -> LAMPUNet:
    """Inflate `base.unet` in place (reproducibly: temporal attention's random init is seeded), eval mode.

    Without a motion loaded it is the untuned model: the image UNet applied frame by frame, with
    first-frame attention.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        unet = LAMPUNet.from_unet2d(base.unet, inflation, base_identity=base.identity)
    unet.requires_grad_(False)
    return unet.eval()


def load_tuned_unet(
    base: SDBase, motion_dir: str | Path, *, force: bool = False
) -> tuple[LAMPUNet, MotionArtifactConfig]:
    """Inflate `base` with the artifact's inflation settings and load its motion (LampError if
    the artifact is unreadable or was tuned on another base, unless `force`)."""
    config = read_motion_config(motion_dir)
    unet = build_video_unet(base, config.inflation)
    load_motion(motion_dir, unet, force=force)
    return unet, config
