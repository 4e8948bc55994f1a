"""Test helper: write diffusers SD 1.x components as one original-format (LDM / CompVis) checkpoint.

Only for producing tiny single-file checkpoints to test loading; written from the LDM key layout
(`model.diffusion_model.*`, `first_stage_model.*`, `cond_stage_model.transformer.*`).
"""

from __future__ import annotations

import torch
from diffusers import AutoencoderKL, UNet2DConditionModel
from transformers import CLIPTextModel

_UNET_RESNET = {
    "norm1": "in_layers.0",
    "conv1": "in_layers.2",
    "time_emb_proj": "emb_layers.1",
    "norm2": "out_layers.0",
    "conv2": "out_layers.3",
    "conv_shortcut": "skip_connection",
}
_VAE_ATTENTION = {"group_norm": "norm", "to_q": "q", "to_k": "k", "to_v": "v", "to_out.0": "proj_out"}


def _rename_inner(rest: str, table: dict[str, str]) -> str:
    for new, old in table.items():
        if rest == new or rest.startswith(new + "."):
            return old + rest[len(new) :]
    return rest


def _unet_prefixes(unet: UNet2DConditionModel) -> dict[str, str]:
    """Diffusers module prefix -> LDM module prefix, for every block of the UNet."""
    layers = unet.config.layers_per_block
    prefixes = {
        "time_embedding.linear_1": "time_embed.0",
        "time_embedding.linear_2": "time_embed.2",
        "conv_in": "input_blocks.0.0",
        "conv_norm_out": "out.0",
        "conv_out": "out.2",
        "mid_block.resnets.0": "middle_block.0",
        "mid_block.attentions.0": "middle_block.1",
        "mid_block.resnets.1": "middle_block.2",
    }
    for i, block in enumerate(unet.down_blocks):
        for j in range(layers):
            index = 1 + i * (layers + 1) + j
            prefixes[f"down_blocks.{i}.resnets.{j}"] = f"input_blocks.{index}.0"
            prefixes[f"down_blocks.{i}.attentions.{j}"] = f"input_blocks.{index}.1"
        if block.downsamplers is not None:
            prefixes[f"down_blocks.{i}.downsamplers.0.conv"] = f"input_blocks.{(i + 1) * (layers + 1)}.0.op"
    for i, block in enumerate(unet.up_blocks):
        for j in range(layers + 1):
            index = i * (layers + 1) + j
            prefixes[f"up_blocks.{i}.resnets.{j}"] = f"output_blocks.{index}.0"
            prefixes[f"up_blocks.{i}.attentions.{j}"] = f"output_blocks.{index}.1"
        if block.upsamplers is not None:
            slot = 2 if hasattr(block, "attentions") else 1  # after the resnet (and attention, if any)
            index = i * (layers + 1) + layers
            prefixes[f"up_blocks.{i}.upsamplers.0.conv"] = f"output_blocks.{index}.{slot}.conv"
    return prefixes


def _vae_prefixes(vae: AutoencoderKL) -> dict[str, str]:
    blocks = len(vae.config.block_out_channels)
    prefixes = {
        "encoder.conv_norm_out": "encoder.norm_out",
        "decoder.conv_norm_out": "decoder.norm_out",
    }
    for part in ("encoder", "decoder"):
        prefixes[f"{part}.mid_block.resnets.0"] = f"{part}.mid.block_1"
        prefixes[f"{part}.mid_block.resnets.1"] = f"{part}.mid.block_2"
        prefixes[f"{part}.mid_block.attentions.0"] = f"{part}.mid.attn_1"
    for i in range(blocks):
        prefixes[f"encoder.down_blocks.{i}.resnets"] = f"encoder.down.{i}.block"
        prefixes[f"encoder.down_blocks.{i}.downsamplers.0.conv"] = f"encoder.down.{i}.downsample.conv"
        prefixes[f"decoder.up_blocks.{i}.resnets"] = f"decoder.up.{blocks - 1 - i}.block"
        prefixes[f"decoder.up_blocks.{i}.upsamplers.0.conv"] = f"decoder.up.{blocks - 1 - i}.upsample.conv"
    return prefixes


def _convert(state: dict[str, torch.Tensor], prefixes: dict[str, str], inner) -> dict[str, torch.Tensor]:
    out = {}
    ordered = sorted(prefixes, key=len, reverse=True)  # longest prefix wins
    for key, value in state.items():
        match = next((p for p in ordered if key.startswith(p + ".")), None)
        if match is None:
            out[key] = value
            continue
        out[prefixes[match] + "." + inner(match, key[len(match) + 1 :])] = value
    return out


def ldm_state_dict(
    unet: UNet2DConditionModel, vae: AutoencoderKL, text_encoder: CLIPTextModel
) -> dict[str, torch.Tensor]:
    """One original-format state dict holding the UNet, VAE and CLIP text encoder."""

    def unet_inner(prefix: str, rest: str) -> str:
        return _rename_inner(rest, _UNET_RESNET) if ".resnets." in prefix else rest

    def vae_inner(prefix: str, rest: str) -> str:
        if ".attentions." in prefix:
            return _rename_inner(rest, _VAE_ATTENTION)
        return rest.replace("conv_shortcut", "nin_shortcut")

    checkpoint = {}
    for key, value in _convert(unet.state_dict(), _unet_prefixes(unet), unet_inner).items():
        checkpoint["model.diffusion_model." + key] = value
    for key, value in _convert(vae.state_dict(), _vae_prefixes(vae), vae_inner).items():
        if ".attn_1." in key and key.endswith(".weight") and value.ndim == 2:
            value = value[:, :, None, None]  # LDM's VAE attention uses 1x1 convs
        checkpoint["first_stage_model." + key] = value
    for key, value in text_encoder.state_dict().items():
        checkpoint["cond_stage_model.transformer.text_model." + key.removeprefix("text_model.")] = value
    return {k: v.detach().clone().contiguous() for k, v in checkpoint.items()}
