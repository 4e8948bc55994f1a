"""LAMP few-shot tuning: first-frame-conditioned training of an inflated SD 1.x UNet on one motion.

Typical use (what `python -m stages.tune <motion>` does)::

    job = TuneJob(motion_config(params, "slide_right"), TuneSettings.from_dict(params["tune"]),
                  ModelSettings.from_dict(params["model"]), params["base"]["model"],
                  TunePaths.for_motion("slide_right"))
    result = tune_motion(job)   # data/motions/slide_right/: motion artifact + model card
"""

from .checkpoint import Checkpoint, latest_checkpoint_step, load_latest_checkpoint, save_checkpoint
from .dataset import LatentCache, Window, WindowSampler, build_latent_cache
from .lamp_loss import LossOutput, lamp_loss, lamp_loss_step, noisy_videos
from .publish import MODEL_CARD_FILE, build_model_card, code_version, publish_motion
from .settings import ModelSettings, TuneSettings, base_source
from .tuner import TuneJob, TunePaths, TuneResult, tune_motion

__all__ = [
    "MODEL_CARD_FILE",
    "Checkpoint",
    "LatentCache",
    "LossOutput",
    "ModelSettings",
    "TuneJob",
    "TunePaths",
    "TuneResult",
    "TuneSettings",
    "Window",
    "WindowSampler",
    "base_source",
    "build_latent_cache",
    "build_model_card",
    "code_version",
    "lamp_loss",
    "lamp_loss_step",
    "latest_checkpoint_step",
    "load_latest_checkpoint",
    "noisy_videos",
    "publish_motion",
    "save_checkpoint",
    "tune_motion",
]
