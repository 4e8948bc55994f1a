"""Temporal self-attention, and the transformer block that runs it after diffusers' BasicTransformerBlock."""

from __future__ import annotations

import torch
from diffusers.models.attention import BasicTransformerBlock
from diffusers.models.attention_processor import Attention
from torch import nn

from .frame_context import FrameContext


class TemporalSelfAttention(nn.Module):
    """Pre-LayerNorm residual self-attention across the frames of a video, at each spatial position.

    Input and output are `(batch * frames, tokens, channels)`. No positional encoding and no causal mask,
    as in the original. The output projection is zero-initialised, so a fresh module is the identity.
    """

    def __init__(
        self,
        dim: int,
        heads: int,
        head_dim: int,
        frames: FrameContext,
        *,
        bias: bool = False,
        norm_eps: float = 1e-5,
    ) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim, eps=norm_eps)
        self.attention = Attention(query_dim=dim, heads=heads, dim_head=head_dim, bias=bias, out_bias=True)
        self._frames = frames
        self.reset_motion()

    def reset_motion(self) -> None:
        """Zero the output projection: the module then returns its input unchanged."""
        out_proj = self.attention.to_out[0]
        nn.init.zeros_(out_proj.weight)
        nn.init.zeros_(out_proj.bias)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        batch, frames = self._frames.split(hidden_states.shape[0])
        tokens = hidden_states.shape[1]
        # (B*F, N, C) -> (B*N, F, C): each spatial position is one sequence over frames.
        sequences = self.norm(hidden_states).unflatten(0, (batch, frames)).transpose(1, 2).flatten(0, 1)
        attended = self.attention(sequences)
        return hidden_states + attended.unflatten(0, (batch, tokens)).transpose(1, 2).flatten(0, 1)


class TemporalTransformerBlock(nn.Module):
    """Runs a pretrained `BasicTransformerBlock` (self-/cross-attention, MLP), then temporal attention.

    Takes the block's own call signature, so diffusers' `Transformer2DModel` (and its gradient
    checkpointing) drives it unchanged.
    """

    def __init__(self, block: BasicTransformerBlock, frames: FrameContext) -> None:
        super().__init__()
        weight = block.attn1.to_q.weight
        self.block = block
        with torch.device(weight.device):  # e.g. "meta": no memory is allocated
            temporal_attention = TemporalSelfAttention(
                block.dim,
                block.num_attention_heads,
                block.attention_head_dim,
                frames,
                bias=block.attention_bias,
            )
        self.temporal_attention = temporal_attention.to(dtype=weight.dtype)

    def forward(self, hidden_states: torch.Tensor, *args, **kwargs) -> torch.Tensor:
        return self.temporal_attention(self.block(hidden_states, *args, **kwargs))
