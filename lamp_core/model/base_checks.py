"""Is a model an SD 1.x text-to-image model whose parts fit together? (LAMP inflates only those.)"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

SD1_DOWN_BLOCKS = frozenset({"CrossAttnDownBlock2D", "DownBlock2D"})
SD1_UP_BLOCKS = frozenset({"CrossAttnUpBlock2D", "UpBlock2D"})
SD1_MID_BLOCKS = frozenset({"UNetMidBlock2DCrossAttn"})


def sd1_unet_problems(config: Mapping[str, Any]) -> list[str]:
    """Reasons a UNet2DConditionModel config is not SD 1.x-shaped (empty when it is)."""
    problems = []
    down, up, mid = config["down_block_types"], config["up_block_types"], config["mid_block_type"]
    if not set(down) <= SD1_DOWN_BLOCKS:
        problems.append(f"down blocks {sorted(set(down) - SD1_DOWN_BLOCKS)} are not SD 1.x blocks")
    if not set(up) <= SD1_UP_BLOCKS:
        problems.append(f"up blocks {sorted(set(up) - SD1_UP_BLOCKS)} are not SD 1.x blocks")
    if mid not in SD1_MID_BLOCKS:
        problems.append(f"mid block {mid!r} is not UNetMidBlock2DCrossAttn")
    if not any(block.startswith("CrossAttn") for block in down):
        problems.append("no cross-attention down block (no text conditioning to inflate)")
    if config["in_channels"] != config["out_channels"]:
        problems.append(f"in_channels {config['in_channels']} != out_channels {config['out_channels']}")
    if config.get("addition_embed_type") is not None:
        problems.append(f"addition_embed_type={config['addition_embed_type']!r} (SDXL-style conditioning)")
    for key in ("class_embed_type", "encoder_hid_dim_type", "time_cond_proj_dim"):
        if config.get(key) is not None:
            problems.append(f"{key}={config[key]!r} (SD 1.x has none)")
    layers = config.get("transformer_layers_per_block", 1)
    if any(n != 1 for n in (layers if isinstance(layers, (list, tuple)) else [layers])):
        problems.append(f"transformer_layers_per_block={layers!r} (SD 1.x: 1; SDXL uses more)")
    if config.get("use_linear_projection"):
        problems.append("use_linear_projection=True (SD 2.x-style transformer projections)")
    if not isinstance(config["cross_attention_dim"], int):
        problems.append(f"cross_attention_dim={config['cross_attention_dim']!r} (SD 1.x: one int)")
    if config.get("resnet_time_scale_shift", "default") != "default":
        problems.append(f"resnet_time_scale_shift={config['resnet_time_scale_shift']!r} (SD 1.x: 'default')")
    if config.get("only_cross_attention") or config.get("dual_cross_attention"):
        problems.append("only/dual cross-attention blocks (SD 1.x has self- and cross-attention)")
    return problems


def sd1_component_problems(
    unet_config: Mapping[str, Any],
    vae_config: Mapping[str, Any],
    text_encoder_config: Any,
    tokenizer_max_length: int,
    scheduler_config: Mapping[str, Any],
) -> list[str]:
    """Reasons the UNet, VAE, text encoder, tokenizer and scheduler configs do not form one SD 1.x model."""
    problems = sd1_unet_problems(unet_config)
    if unet_config["in_channels"] != vae_config["latent_channels"]:
        problems.append(
            f"UNet in_channels {unet_config['in_channels']} != "
            f"VAE latent_channels {vae_config['latent_channels']}"
        )
    text_kind = type(text_encoder_config).__name__
    if text_kind != "CLIPTextConfig":
        problems.append(f"the text encoder is {text_kind.removesuffix('Config')}, not a CLIP text model")
    hidden = getattr(text_encoder_config, "hidden_size", None)
    if hidden != unet_config["cross_attention_dim"]:
        problems.append(
            f"UNet cross_attention_dim {unet_config['cross_attention_dim']} != text width {hidden}"
        )
    positions = getattr(text_encoder_config, "max_position_embeddings", None)
    if positions is not None and tokenizer_max_length > positions:
        problems.append(f"tokenizer max length {tokenizer_max_length} > text encoder positions {positions}")
    prediction = scheduler_config.get("prediction_type", "epsilon")
    if prediction != "epsilon":
        problems.append(f"scheduler prediction_type={prediction!r} (SD 1.x predicts noise: 'epsilon')")
    return problems
