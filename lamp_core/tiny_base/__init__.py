"""The project's own tiny text-to-image base model, in the formats of an SD 1.x diffusers folder."""

from lamp_core.tiny_base.components import (
    build_tiny_sd_components,
    caption_corpus,
    save_clip_tokenizer,
    save_tiny_sd,
    sd1_scheduler,
    train_clip_bpe,
)
from lamp_core.tiny_base.evaluate import (
    caption_fidelity,
    describe_image,
    image_grid,
    load_pipeline,
    sample_images,
)
from lamp_core.tiny_base.pretrain import PretrainConfig, pretrain_tiny_sd, write_model_card

__all__ = [
    "PretrainConfig",
    "build_tiny_sd_components",
    "caption_corpus",
    "caption_fidelity",
    "describe_image",
    "image_grid",
    "load_pipeline",
    "pretrain_tiny_sd",
    "sample_images",
    "save_clip_tokenizer",
    "save_tiny_sd",
    "sd1_scheduler",
    "train_clip_bpe",
    "write_model_card",
]
