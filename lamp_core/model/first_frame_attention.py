"""Attention processor for `attn1`: every frame's queries attend to the first frame's keys and values."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from diffusers.models.attention_processor import Attention

from lamp_core.errors import LampError

from .frame_context import FrameContext


class FirstFrameAttnProcessor:
    """Spatial self-attention with keys/values from the first frame of each video only.

    Set on diffusers' own `Attention` modules (`attn.set_processor(...)`), like diffusers' processors.
    Keys and values are computed for the first frame only, and all frames' queries of a video go through
    one `scaled_dot_product_attention` call against them (no repeated keys in memory).
    """

    def __init__(self, frames: FrameContext) -> None:
        self.frames = frames

    @staticmethod
    def check_supported(attn: Attention, name: str) -> None:
        """Refuse attention layers with features this processor does not implement."""
        if attn.is_cross_attention:
            raise LampError(f"{name}: first-frame attention needs a self-attention layer")
        if attn.spatial_norm is not None or attn.group_norm is not None:
            raise LampError(f"{name}: spatial_norm/group_norm attention is not supported")

    def __call__(
        self,
        attn: Attention,
        hidden_states: torch.Tensor,
        encoder_hidden_states: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        temb: torch.Tensor | None = None,
        **kwargs,
    ) -> torch.Tensor:
        if encoder_hidden_states is not None or attention_mask is not None:
            raise LampError("first-frame attention takes neither encoder_hidden_states nor attention_mask")
        if hidden_states.ndim != 3:
            raise LampError(
                f"first-frame attention expects (batch*frames, tokens, channels), "
                f"got shape {tuple(hidden_states.shape)}"
            )
        residual = hidden_states
        batch, frames = self.frames.split(hidden_states.shape[0])
        tokens = hidden_states.shape[1]

        query = attn.to_q(hidden_states)
        first_frame = hidden_states.unflatten(0, (batch, frames))[:, 0]
        key = attn.to_k(first_frame)
        value = attn.to_v(first_frame)

        head_dim = key.shape[-1] // attn.heads
        # All frames of one video share the keys, so their queries form one long sequence.
        query = query.reshape(batch, frames * tokens, attn.heads, head_dim).transpose(1, 2)
        key = key.view(batch, tokens, attn.heads, head_dim).transpose(1, 2)
        value = value.view(batch, tokens, attn.heads, head_dim).transpose(1, 2)
        if attn.norm_q is not None:
            query = attn.norm_q(query)
        if attn.norm_k is not None:
            key = attn.norm_k(key)

        out = F.scaled_dot_product_attention(query, key, value, dropout_p=0.0, scale=attn.scale)
        out = out.transpose(1, 2).reshape(batch * frames, tokens, attn.heads * head_dim).to(query.dtype)
        out = attn.to_out[1](attn.to_out[0](out))
        if attn.residual_connection:
            out = out + residual
        return out / attn.rescale_output_factor
