"""LAMP's video model: SD 1.x base loading, in-place inflation of diffusers' UNet, motion artifacts.

Typical use::

    base = load_base("path/to/sd15-folder-or-file.safetensors")
    unet = LAMPUNet.from_unet2d(base.unet, InflationConfig.paper(), base_identity=base.identity)
    ...  # tune unet.trainable_parameters()
    save_motion("models/slide_right", unet, metadata={"steps": 400})
    load_motion("models/orbit", unet)  # switch motion on the same base
"""

from .base import DEFAULT_SINGLE_FILE_CONFIG, BaseIdentity, SDBase, load_base, unet_content_hash
from .config import InflationConfig
from .motion_artifact import MotionArtifactConfig, load_motion, read_motion_config, save_motion
from .video_unet import DEFAULT_TRAINABLE_PATTERNS, LAMPUNet

__all__ = [
    "DEFAULT_SINGLE_FILE_CONFIG",
    "DEFAULT_TRAINABLE_PATTERNS",
    "BaseIdentity",
    "InflationConfig",
    "LAMPUNet",
    "MotionArtifactConfig",
    "SDBase",
    "load_base",
    "load_motion",
    "read_motion_config",
    "save_motion",
    "unet_content_hash",
]
