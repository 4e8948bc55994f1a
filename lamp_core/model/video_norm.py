"""GroupNorm whose statistics span all frames of a video, as in the original LAMP."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .frame_context import FrameContext


class VideoGroupNorm(nn.GroupNorm):
    """GroupNorm over (channels-in-group, frames, height, width) of each video.

    Takes and returns `(batch * frames, C, H, W)`. It shares its affine parameters with the GroupNorm it
    replaces (same parameter names too), so pretrained weights load unchanged. For a video whose frames
    are all equal it computes what per-frame GroupNorm computes.
    """

    def __init__(self, norm: nn.GroupNorm, frames: FrameContext) -> None:
        super().__init__(norm.num_groups, norm.num_channels, eps=norm.eps, affine=False)
        self.affine = norm.affine
        self.weight = norm.weight
        self.bias = norm.bias
        self._frames = frames

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, frames = self._frames.split(x.shape[0])
        video = x.unflatten(0, (batch, frames)).transpose(1, 2)  # (B, C, F, H, W)
        normed = F.group_norm(video, self.num_groups, self.weight, self.bias, self.eps)
        return normed.transpose(1, 2).flatten(0, 1)
