"""AdaIN on latents and the method's two-phase schedule."""

from __future__ import annotations

import torch

from lamp_core.sampling import adain, adain_switch_step, apply_adain_schedule


def _stats(latents: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return latents.mean(dim=(-2, -1)), latents.std(dim=(-2, -1), correction=0)


def test_adain_gives_each_channel_the_references_mean_and_std() -> None:
    generator = torch.Generator().manual_seed(0)
    content = torch.randn(2, 4, 3, 6, 8, generator=generator) * 3 + 1
    reference = torch.randn(2, 4, 1, 6, 8, generator=generator) * 0.5 - 2
    result = adain(content, reference)
    mean, std = _stats(result)
    ref_mean, ref_std = _stats(reference)
    torch.testing.assert_close(mean, ref_mean.expand_as(mean), atol=1e-5, rtol=0)
    torch.testing.assert_close(std, ref_std.expand_as(std), atol=1e-4, rtol=1e-4)
    # The spatial pattern of each map is kept (an affine map of the content).
    normalised = (content - content.mean((-2, -1), keepdim=True)) / content.std(
        (-2, -1), keepdim=True, correction=0
    )
    back = (result - result.mean((-2, -1), keepdim=True)) / result.std((-2, -1), keepdim=True, correction=0)
    torch.testing.assert_close(back, normalised, atol=1e-4, rtol=1e-4)


def test_switch_step_is_the_reference_codes_at_50_steps() -> None:
    # The reference switches when the step index exceeds 30: steps 0..30 on frame 2, 31..49 on frame 1.
    assert adain_switch_step(50) == 31
    assert adain_switch_step(25, 0.6) == 16
    assert adain_switch_step(35, 0.6) == 22  # 0.6 * 35 is 20.999999999999996 in floats
    assert adain_switch_step(10, 0.0) == 1
    assert adain_switch_step(10, 1.0) == 10  # no second phase


def test_schedule_first_phase_uses_frame_2_then_the_first_frame() -> None:
    generator = torch.Generator().manual_seed(1)
    generated = torch.randn(1, 4, 4, 6, 8, generator=generator) * torch.arange(1, 5).view(1, 1, 4, 1, 1)
    first = torch.randn(1, 4, 1, 6, 8, generator=generator) * 0.3 + 0.7

    early = apply_adain_schedule(generated, first, step_index=29, switch_step=30)
    assert torch.equal(early[:, :, 0], generated[:, :, 0])  # frame 2 itself is the reference
    mean, std = _stats(early)
    torch.testing.assert_close(mean[:, :, 1:], mean[:, :, :1].expand(-1, -1, 3), atol=1e-5, rtol=0)
    torch.testing.assert_close(std[:, :, 1:], std[:, :, :1].expand(-1, -1, 3), atol=1e-4, rtol=1e-4)

    late = apply_adain_schedule(generated, first, step_index=30, switch_step=30)
    mean, std = _stats(late)
    first_mean, first_std = _stats(first)
    torch.testing.assert_close(mean, first_mean.expand_as(mean), atol=1e-5, rtol=0)
    torch.testing.assert_close(std, first_std.expand_as(std), atol=1e-4, rtol=1e-4)
