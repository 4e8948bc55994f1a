"""The frame count shared by the LAMP layers of one inflated UNet.

Diffusers' UNet runs on image batches, so every wrapped layer sees `(batch * frames, ...)` tensors.
`LAMPUNet.forward` records the frame count here for the duration of the call; the layers read it to
recover the video axis.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch.utils.checkpoint

from lamp_core.errors import LampError


class FrameContext:
    """Holds the number of frames per video of the batch currently running through the UNet."""

    def __init__(self) -> None:
        self.num_frames: int | None = None

    @contextmanager
    def use(self, num_frames: int | None) -> Iterator[None]:
        """Set the frame count for the duration of a `with` block (restoring the previous one after)."""
        previous, self.num_frames = self.num_frames, num_frames
        try:
            yield
        finally:
            self.num_frames = previous

    def split(self, batch_frames: int) -> tuple[int, int]:
        """`(batch, frames)` for a leading dimension of `batch * frames`."""
        frames = self.num_frames
        if frames is None:
            raise LampError(
                "a LAMP layer ran outside LAMPUNet.forward, so the frame count is unknown; "
                "call the LAMPUNet (not its inner 2D UNet) on (batch, channels, frames, height, width)"
            )
        if batch_frames % frames:
            raise LampError(f"leading dimension {batch_frames} is not a multiple of {frames} frames")
        return batch_frames // frames, frames

    def checkpoint(self, function: Callable[..., Any], *args: Any) -> Any:
        """Gradient checkpointing (non-reentrant) that restores this forward's frame count in recomputation.

        Backward recomputes `function` after `LAMPUNet.forward` has returned; the frame count captured here
        is set again for it. Given to diffusers as its `gradient_checkpointing_func`.
        """
        frames = self.num_frames

        def run(*inputs: Any) -> Any:
            with self.use(frames):
                return function(*inputs)

        return torch.utils.checkpoint.checkpoint(run, *args, use_reentrant=False)
