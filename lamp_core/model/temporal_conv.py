"""LAMP's temporal-spatial motion learning layer: a pretrained 2D conv plus a gated causal temporal conv."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .frame_context import FrameContext


class TemporalSpatialConv(nn.Module):
    """`y = y2d + sigmoid(gate(y2d)) * temporal(y2d)` with `y2d = conv2d(x)` applied per frame.

    `temporal` is a 1D conv over frames, applied per pixel and channel-mixing, and causal: output frame
    t sees frames t-k+1..t (zero padding on the past side only). Its weights are a Conv3d's, kernel
    (k, 1, 1), as in the reference code; it runs as the equivalent Conv2d over a (batch, channels, frames,
    height * width) view, which takes oneDNN on CPUs where Conv3d takes the slow reference kernel.
    `gate` is a 3x3 conv to one channel. Both are zero-initialised, so a fresh layer computes exactly
    `conv2d(x)`.

    Input and output are `(batch * frames, channels, height, width)`, as diffusers' UNet runs them.
    """

    def __init__(self, conv2d: nn.Conv2d, frames: FrameContext, temporal_kernel_size: int = 3) -> None:
        super().__init__()
        channels = conv2d.out_channels
        factory = {"device": conv2d.weight.device, "dtype": conv2d.weight.dtype}
        self.conv2d = conv2d
        self.temporal_conv = nn.Conv3d(
            channels, channels, kernel_size=(temporal_kernel_size, 1, 1), **factory
        )
        self.gate = nn.Conv2d(channels, 1, kernel_size=3, padding=1, **factory)
        self.temporal_kernel_size = temporal_kernel_size
        self._frames = frames
        self.reset_motion()

    def reset_motion(self) -> None:
        """Zero the temporal conv and the gate: the layer then computes exactly `conv2d(x)`."""
        for module in (self.temporal_conv, self.gate):
            nn.init.zeros_(module.weight)
            nn.init.zeros_(module.bias)

    def temporal(self, y2d: torch.Tensor) -> torch.Tensor:
        """The causal temporal branch alone, on `(batch * frames, C, H, W)` features."""
        batch, frames = self._frames.split(y2d.shape[0])
        video = y2d.unflatten(0, (batch, frames)).transpose(1, 2)  # (B, C, F, H, W)
        video = F.pad(video.flatten(3), (0, 0, self.temporal_kernel_size - 1, 0))  # past side only
        conv = self.temporal_conv
        out = F.conv2d(video, conv.weight.squeeze(-1), conv.bias)  # (B, C, F, H * W)
        return out.unflatten(3, y2d.shape[-2:]).transpose(1, 2).flatten(0, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y2d = self.conv2d(x)
        return y2d + torch.sigmoid(self.gate(y2d)) * self.temporal(y2d)

    def extra_repr(self) -> str:
        return f"causal temporal kernel={self.temporal_kernel_size}"
