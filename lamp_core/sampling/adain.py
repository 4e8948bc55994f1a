"""AdaIN on latents, and LAMP's two-phase schedule of it during sampling."""

from __future__ import annotations

import math

import torch

#: AdaIN's reference switches after 60% of the steps. The reference code switches once the step index
#: (from 0) exceeds 30 of 50, so the first phase has 31 steps; the paper's text reads "the first 30".
DEFAULT_ADAIN_SWITCH_FRACTION = 0.6


def adain(content: torch.Tensor, reference: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Give each (channel, frame) map of `content` the mean and std over H x W of `reference`.

    content: (batch, channels, frames, height, width); reference: the same with frames 1 (or frames
    equal), broadcast over content's frames. Std is the population std; `eps` guards constant maps.
    """
    dims = (-2, -1)
    content_mean = content.mean(dim=dims, keepdim=True)
    content_std = content.std(dim=dims, keepdim=True, correction=0)
    reference_mean = reference.mean(dim=dims, keepdim=True)
    reference_std = reference.std(dim=dims, keepdim=True, correction=0)
    return (content - content_mean) / (content_std + eps) * reference_std + reference_mean


def adain_switch_step(num_steps: int, switch_fraction: float = DEFAULT_ADAIN_SWITCH_FRACTION) -> int:
    """The first step (0-based) of AdaIN's second phase: the first index greater than
    `switch_fraction * num_steps`, as the reference code's `i > 30` at 50 steps (so 31 at 50, 16 at 25).

    Capped at `num_steps` (no second phase), which is what `switch_fraction` 1 gives.
    """
    # The tolerance keeps products such as 0.6 * 35 (20.999999999999996 in floats) at their exact value.
    return min(math.floor(switch_fraction * num_steps + 1e-9) + 1, num_steps)


def apply_adain_schedule(
    generated: torch.Tensor, first_frame: torch.Tensor, step_index: int, switch_step: int
) -> torch.Tensor:
    """LAMP's AdaIN after denoising step `step_index` (0-based).

    generated: latents of frames 2..f, (batch, channels, frames - 1, height, width).
    first_frame: the clean first-frame latent, (batch, channels, 1, height, width).
    Before `switch_step`, frames 3..f take the statistics of frame 2; from it on, frames 2..f take the
    first frame's. (First-frame statistics from the start cause artifacts, the method notes.)
    """
    if step_index >= switch_step:
        return adain(generated, first_frame)
    if generated.shape[2] < 2:
        return generated
    second = generated[:, :, :1]
    return torch.cat([second, adain(generated[:, :, 1:], second)], dim=2)
