"""The optimisation as the paper sets it: AdamW on exactly the motion weights, its hyper-parameters, a
constant schedule, and mixed precision that computes the fp32 loss within a stated tolerance."""

from __future__ import annotations

import pytest
import torch
from diffusers import DDPMScheduler
from diffusers.optimization import get_scheduler
from pipeline_settings import from_params
from tiny_models import make_lamp, randomize_motion, video_inputs

from lamp_core.tiny_base import sd1_scheduler
from lamp_core.training import TuneSettings, lamp_loss_step
from lamp_core.training.tuner import _optimizer

PAPER = from_params(
    TuneSettings, "tune", learning_rate=3e-5, lr_scheduler="constant"
)  # betas etc.: the paper's


def test_adamw_has_one_group_of_exactly_the_trainable_weights_with_the_papers_settings() -> None:
    unet = make_lamp()
    optimizer = _optimizer(unet, PAPER)
    assert type(optimizer) is torch.optim.AdamW and len(optimizer.param_groups) == 1
    group = optimizer.param_groups[0]
    assert [id(p) for p in group["params"]] == [id(p) for p in unet.trainable_parameters()]
    assert {id(p) for p in group["params"]} == {id(p) for p in unet.parameters() if p.requires_grad}
    assert group["lr"] == 3e-5 and group["betas"] == (0.9, 0.999)
    assert group["weight_decay"] == 1e-2 and group["eps"] == 1e-8


def test_the_constant_schedule_keeps_the_learning_rate_and_warmup_ramps_it() -> None:
    unet = make_lamp()
    constant = get_scheduler("constant", optimizer=_optimizer(unet, PAPER))
    warmup_optimizer = _optimizer(unet, PAPER)
    warmup = get_scheduler("constant_with_warmup", optimizer=warmup_optimizer, num_warmup_steps=4)
    rates, ramped = [], []
    for _ in range(10):
        constant.optimizer.step()
        constant.step()
        warmup_optimizer.step()
        warmup.step()
        rates.append(constant.get_last_lr()[0])
        ramped.append(warmup.get_last_lr()[0])
    assert rates == [3e-5] * 10
    assert ramped[:4] == pytest.approx([3e-5 * k / 4 for k in range(1, 5)]) and ramped[4:] == [3e-5] * 6


def _loss(unet, dtype: torch.dtype | None) -> torch.Tensor:
    sample, _, text = video_inputs(seed=4, frames=4)
    scheduler = DDPMScheduler.from_config(sd1_scheduler().config)
    generator = torch.Generator().manual_seed(7)
    if dtype is None:
        return lamp_loss_step(unet, sample, text, scheduler, generator).loss
    with torch.autocast("cpu", dtype=dtype):
        return lamp_loss_step(unet, sample, text, scheduler, generator).loss


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16], ids=["bf16", "fp16"])
def test_mixed_precision_gives_the_fp32_loss_within_half_a_percent(dtype: torch.dtype) -> None:
    """Autocast as accelerate runs it (`mixed_precision` bf16, or fp16 on CUDA; here fp16 on the CPU's
    autocast): the same draws give the fp32 loss within 0.5% (measured: 0.01%), gradients the same way."""
    unet = make_lamp()
    randomize_motion(unet, seed=5)
    unet.train()
    reference = _loss(unet, None)
    reference.backward()
    fp32_grads = torch.cat([p.grad.flatten() for p in unet.trainable_parameters()])
    unet.zero_grad(set_to_none=True)
    mixed = _loss(unet, dtype)
    mixed.backward()
    mixed_grads = torch.cat([p.grad.flatten().float() for p in unet.trainable_parameters()])
    assert mixed.dtype == torch.float32  # the loss itself is taken in float32
    assert abs(mixed.item() - reference.item()) <= 0.005 * reference.item()
    assert torch.nn.functional.cosine_similarity(mixed_grads, fp32_grads, dim=0) > 0.99
