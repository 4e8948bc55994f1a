"""The LAMP objective: one timestep per video, a clean first frame, and a loss that never sees frame 1."""

from __future__ import annotations

import torch
from tiny_models import make_lamp

from lamp_core.tiny_base import sd1_scheduler
from lamp_core.training import lamp_loss, lamp_loss_step, noisy_videos


def _inputs(seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    latents = torch.randn(2, 4, 5, 8, 8, generator=generator)
    text = torch.randn(2, 7, 32, generator=generator)
    return latents, text


def test_frame_one_gets_no_gradient_and_is_fed_clean() -> None:
    unet = make_lamp(base=None).train()
    latents, text = _inputs()
    out = lamp_loss_step(unet, latents, text, sd1_scheduler(), torch.Generator().manual_seed(1))
    out.noise_pred.retain_grad()
    out.loss.backward()

    grad = out.noise_pred.grad
    assert torch.count_nonzero(grad[:, :, 0]) == 0
    assert torch.count_nonzero(grad[:, :, 1:]) == grad[:, :, 1:].numel()
    assert torch.equal(out.noisy[:, :, 0], latents[:, :, 0])
    assert not torch.allclose(out.noisy[:, :, 1:], latents[:, :, 1:])
    expected = (out.noise_pred[:, :, 1:] - out.noise[:, :, 1:]).square().mean()
    torch.testing.assert_close(out.loss, expected)
    trainable = [p for p in unet.trainable_parameters() if p.grad is not None]
    assert trainable and any(p.grad.abs().sum() > 0 for p in trainable)


def test_loss_ignores_whatever_is_predicted_for_frame_one() -> None:
    noise = torch.randn(2, 4, 5, 8, 8)
    prediction = torch.randn(2, 4, 5, 8, 8)
    changed = prediction.clone()
    changed[:, :, 0] += 100.0
    assert torch.equal(lamp_loss(prediction, noise), lamp_loss(changed, noise))


def test_one_timestep_is_shared_by_the_frames_of_a_video() -> None:
    scheduler = sd1_scheduler()
    latents, _ = _inputs(seed=2)
    noise = torch.randn_like(latents)
    timesteps = torch.tensor([10, 900])
    noisy = noisy_videos(latents, noise, timesteps, scheduler)
    alphas = scheduler.alphas_cumprod[timesteps].view(2, 1, 1, 1, 1)
    expected = alphas.sqrt() * latents + (1 - alphas).sqrt() * noise
    torch.testing.assert_close(noisy[:, :, 1:], expected[:, :, 1:])
    torch.testing.assert_close(noisy[:, :, 0], latents[:, :, 0], rtol=0, atol=0)
