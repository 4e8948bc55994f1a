"""What training needs from the video UNet: trainable set, checkpointing, channels-last, half precision."""

from __future__ import annotations

import pytest
import torch
from tiny_models import make_lamp, randomize_motion, video_inputs

from lamp_core.errors import LampError
from lamp_core.model import DEFAULT_TRAINABLE_PATTERNS


def _loss(model, seed: int = 0) -> torch.Tensor:
    sample, timesteps, text = video_inputs(seed=seed, frames=3)
    return model(sample, timesteps, text).square().mean()


def _grads(model) -> dict[str, torch.Tensor]:
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


def _method_kind(name: str) -> bool:
    kinds = (".temporal_conv.", ".gate.", ".temporal_attention.attention.", ".attn1.to_q.")
    return any(m in name for m in kinds)


def test_the_default_trainable_names_are_the_reference_codes_set() -> None:
    """The reference trains `conv1d`, `conv_gate`, `attn_temp` (q, k, v, out; not `norm_temp`) and
    `attn1.to_q`: here the temporal conv and gate of every inflated conv, temporal attention's four
    projections and attn1's query of every transformer block, and nothing else."""
    from lamp_core.model.temporal_attention import TemporalTransformerBlock
    from lamp_core.model.temporal_conv import TemporalSpatialConv

    model = make_lamp()
    expected = set()
    for path, module in model.named_modules():
        if isinstance(module, TemporalSpatialConv):
            expected |= {
                f"{path}.{layer}.{kind}" for layer in ("temporal_conv", "gate") for kind in ("weight", "bias")
            }
        if isinstance(module, TemporalTransformerBlock):
            attention = f"{path}.temporal_attention.attention"
            expected |= {f"{attention}.to_{p}.weight" for p in "qkv"}
            expected |= {
                f"{attention}.to_out.0.weight",
                f"{attention}.to_out.0.bias",
                f"{path}.block.attn1.to_q.weight",
            }
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == expected
    # 4 transformer blocks (1 down, 2 up at the top level, 1 mid): 6 tensors each, then the convs'.
    blocks = sum(isinstance(m, TemporalTransformerBlock) for m in model.modules())
    convs = sum(isinstance(m, TemporalSpatialConv) for m in model.modules())
    assert blocks == 4 and len(trainable) == 6 * blocks + 4 * convs
    frozen_norms = [n for n, p in model.named_parameters() if ".temporal_attention.norm." in n]
    assert len(frozen_norms) == 2 * blocks and not any(n in trainable for n in frozen_norms)


def test_gradients_reach_exactly_the_default_trainable_set() -> None:
    model = make_lamp()
    randomize_motion(model, seed=1)  # away from zero-init, where some trainable grads are exactly zero
    _loss(model).backward()

    names = {n for n, _ in model.named_parameters()}
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    with_grad = {n for n, p in model.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0}
    assert trainable == {n for n in names if _method_kind(n)}
    assert with_grad == trainable
    assert {id(p) for p in model.trainable_parameters()} == {
        id(p) for n, p in model.named_parameters() if n in trainable
    }
    assert model.trainable_patterns == DEFAULT_TRAINABLE_PATTERNS


def test_trainable_set_follows_patterns() -> None:
    model = make_lamp()
    selected = model.set_trainable(["*.temporal_attention.*"])
    assert selected and all(".temporal_attention." in n for n in selected)
    assert sorted(n for n, p in model.named_parameters() if p.requires_grad) == selected
    with pytest.raises(LampError, match="match no parameter"):
        model.set_trainable(["*.temporal_attention.*", "*.no_such_layer.*"])


def test_gradient_checkpointing_gives_the_same_gradients() -> None:
    plain, checkpointed = make_lamp(), make_lamp()
    randomize_motion(plain, seed=2)
    randomize_motion(checkpointed, seed=2)
    checkpointed.train()
    plain.train()
    checkpointed.enable_gradient_checkpointing()
    assert checkpointed.unet.down_blocks[0].gradient_checkpointing

    loss_plain = _loss(plain)
    loss_plain.backward()
    loss_checkpointed = _loss(checkpointed)
    loss_checkpointed.backward()  # recomputes blocks after forward returned: needs the frame count again

    torch.testing.assert_close(loss_checkpointed, loss_plain, rtol=0, atol=1e-6)
    expected, got = _grads(plain), _grads(checkpointed)
    assert got.keys() == expected.keys() and expected
    for name in expected:
        torch.testing.assert_close(got[name], expected[name], rtol=1e-5, atol=1e-6, msg=name)


def test_channels_last_gives_the_same_output() -> None:
    model = make_lamp()
    randomize_motion(model, seed=3)
    sample, timesteps, text = video_inputs(frames=3)
    with torch.no_grad():
        expected = model(sample, timesteps, text)
        model.enable_channels_last()
        got = model(sample, timesteps, text)
    assert model.unet.conv_in.conv2d.weight.is_contiguous(memory_format=torch.channels_last)
    assert model.unet.conv_in.temporal_conv.weight.is_contiguous(memory_format=torch.channels_last_3d)
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)


def test_bfloat16_forward_and_backward() -> None:
    model = make_lamp()
    randomize_motion(model, seed=4)
    sample, timesteps, text = video_inputs(frames=3)
    with torch.no_grad():
        expected = model(sample, timesteps, text)
    model.to(torch.bfloat16)
    out = model(sample.bfloat16(), timesteps, text.bfloat16())
    out.float().square().mean().backward()
    assert out.dtype == torch.bfloat16 and model.dtype == torch.bfloat16
    assert all(p.grad is not None and p.grad.dtype == torch.bfloat16 for p in model.trainable_parameters())
    assert (out.float() - expected).abs().mean() < 0.05 * expected.abs().mean()
