"""Inflation of a 2D UNet into LAMP's video UNet: what is wrapped, the zero-init invariant, causality."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from diffusers.models.attention_processor import Attention, AttnProcessor2_0
from tiny_models import TEXT_DIM, make_lamp, make_unet, video_inputs
from torch import nn

from lamp_core.errors import LampError
from lamp_core.model import InflationConfig, LAMPUNet
from lamp_core.model.first_frame_attention import FirstFrameAttnProcessor
from lamp_core.model.frame_context import FrameContext
from lamp_core.model.temporal_attention import TemporalSelfAttention, TemporalTransformerBlock
from lamp_core.model.temporal_conv import TemporalSpatialConv
from lamp_core.model.video_norm import VideoGroupNorm


@pytest.mark.parametrize(("group_norm", "frames"), [("video", 4), ("video", 2), ("frame", 4), ("frame", 7)])
def test_fresh_inflation_equals_image_unet_on_still_video(group_norm: str, frames: int) -> None:
    image_unet = make_unet(seed=3)
    model = LAMPUNet.from_unet2d(
        copy.deepcopy(image_unet), InflationConfig(group_norm=group_norm, temporal_kernel_size=3)
    ).eval()
    images, timesteps, text = video_inputs(seed=1, frames=1)
    images = images[:, :, 0]  # (B, C, H, W)
    still = images[:, :, None].expand(-1, -1, frames, -1, -1)  # every frame the same image

    with torch.no_grad():
        expected = image_unet(images, timesteps, encoder_hidden_states=text).sample
        video = model(still, timesteps, text)

    assert video.shape == still.shape
    for f in range(frames):
        torch.testing.assert_close(video[:, :, f], expected, rtol=0, atol=1e-5)


def test_every_image_feature_conv_is_wrapped_and_nothing_else() -> None:
    model = make_lamp()
    wrapped = {
        name.removeprefix("unet.") for name, m in model.named_modules() if isinstance(m, TemporalSpatialConv)
    }

    expected = {"conv_in", "conv_out", "down_blocks.0.downsamplers.0.conv", "up_blocks.0.upsamplers.0.conv"}
    for name, _ in make_unet().named_modules():
        if name.endswith((".conv1", ".conv2", ".conv_shortcut")) and ".resnets." in name:
            expected.add(name)
    assert wrapped == expected
    assert "down_blocks.1.resnets.0.conv_shortcut" in wrapped  # 32 -> 64 channels
    # The only plain 2D convs left are the transformers' 1x1 projections, the wrapped convs and the gates.
    for name, module in model.named_modules():
        if type(module) is nn.Conv2d:
            assert name.endswith((".conv2d", ".gate", ".proj_in", ".proj_out")), name


def test_transformer_blocks_get_first_frame_attention_and_temporal_attention() -> None:
    model = make_lamp()
    blocks = [m for m in model.modules() if isinstance(m, TemporalTransformerBlock)]
    assert len(blocks) == 4  # down 0 (1 layer), mid, up 1 (2 layers)
    for block in blocks:
        assert isinstance(block.block.attn1.processor, FirstFrameAttnProcessor)
        assert isinstance(block.block.attn2.processor, AttnProcessor2_0)  # cross-attention unchanged


@pytest.mark.parametrize("group_norm", ["video", "frame"])
def test_group_norm_choice(group_norm: str) -> None:
    model = make_lamp(config=InflationConfig(group_norm=group_norm, temporal_kernel_size=3))
    video = group_norm == "video"
    resnet_norms = [
        m for n, m in model.named_modules() if n.endswith((".norm1", ".norm2")) and ".resnets." in n
    ]
    assert resnet_norms and all(isinstance(m, VideoGroupNorm) == video for m in resnet_norms)
    assert isinstance(model.unet.conv_norm_out, VideoGroupNorm) == video
    transformer_norms = [m for n, m in model.named_modules() if n.endswith("attentions.0.norm")]
    assert transformer_norms and not any(isinstance(m, VideoGroupNorm) for m in transformer_norms)


def test_video_group_norm_statistics_span_frames() -> None:
    frames = FrameContext()
    norm = VideoGroupNorm(nn.GroupNorm(2, 4), frames)
    video = torch.randn(1, 3, 4, 5, 5)  # (B, F, C, H, W)
    brighter = video.clone()
    brighter[:, 2] *= 10  # only frame 2 changes
    with torch.no_grad(), frames.use(3):
        out, out_brighter = norm(video.flatten(0, 1)), norm(brighter.flatten(0, 1))
    # Statistics over all frames: changing one frame renormalises the others too.
    assert not torch.allclose(out[0], out_brighter[0])
    # And they equal GroupNorm on the (B, C, F, H, W) video.
    reference = nn.functional.group_norm(video.transpose(1, 2), 2).transpose(1, 2).flatten(0, 1)
    torch.testing.assert_close(out, reference)


def _random_temporal_conv(frames: FrameContext) -> TemporalSpatialConv:
    torch.manual_seed(0)
    layer = TemporalSpatialConv(nn.Conv2d(3, 6, 3, padding=1), frames)
    with torch.no_grad():
        for module in (layer.temporal_conv, layer.gate):
            for param in module.parameters():
                param.normal_()
    return layer


def test_temporal_conv_is_causal_with_a_window_of_three_frames() -> None:
    frames = FrameContext()
    layer = _random_temporal_conv(frames)
    video = torch.randn(2, 7, 3, 5, 5)  # (B, F, C, H, W)
    changed = video.clone()
    t = 3
    changed[:, t] += 1.0
    with torch.no_grad(), frames.use(7):
        y2d, y2d_changed = layer.conv2d(video.flatten(0, 1)), layer.conv2d(changed.flatten(0, 1))
        temporal = layer.temporal(y2d).unflatten(0, (2, 7))
        temporal_changed = layer.temporal(y2d_changed).unflatten(0, (2, 7))
        out = layer(video.flatten(0, 1)).unflatten(0, (2, 7))
        out_changed = layer(changed.flatten(0, 1)).unflatten(0, (2, 7))

    assert torch.equal(temporal[:, :t], temporal_changed[:, :t])  # the past never sees the future
    assert torch.equal(out[:, :t], out_changed[:, :t])
    for f in (t, t + 1, t + 2):  # frames t..t+2 see frame t
        assert not torch.allclose(temporal[:, f], temporal_changed[:, f])
    assert torch.equal(temporal[:, t + 3], temporal_changed[:, t + 3])  # t+3 sees t+1..t+3 only


def test_temporal_conv_equals_the_reference_conv3d_in_value_and_gradient() -> None:
    """The branch runs as a Conv2d over (B, C, F, H*W); it must be the reference's padded Conv3d."""
    frames = FrameContext()
    layer = _random_temporal_conv(frames)
    y2d = torch.randn(2 * 5, 6, 4, 3, requires_grad=True)
    with frames.use(5):
        ours = layer.temporal(y2d)
    video = F.pad(y2d.unflatten(0, (2, 5)).transpose(1, 2), (0, 0, 0, 0, 2, 0))
    reference = layer.temporal_conv(video).transpose(1, 2).flatten(0, 1)
    torch.testing.assert_close(ours, reference, rtol=1e-5, atol=1e-5)
    upstream = torch.randn_like(ours)
    ours_grads = torch.autograd.grad(ours, (y2d, layer.temporal_conv.weight), upstream)
    reference_grads = torch.autograd.grad(reference, (y2d, layer.temporal_conv.weight), upstream)
    for a, b in zip(ours_grads, reference_grads, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_fresh_temporal_layers_are_exact_identities() -> None:
    frames = FrameContext()
    conv = nn.Conv2d(3, 6, 3, padding=1)
    layer = TemporalSpatialConv(conv, frames)
    attention = TemporalSelfAttention(8, heads=2, head_dim=4, frames=frames)
    x, tokens = torch.randn(6, 3, 5, 5), torch.randn(6, 10, 8)
    with torch.no_grad(), frames.use(3):
        assert torch.equal(layer(x), conv(x))
        assert torch.equal(attention(tokens), tokens)


def test_temporal_attention_attends_over_all_frames() -> None:
    frames = FrameContext()
    torch.manual_seed(0)
    attention = TemporalSelfAttention(8, heads=2, head_dim=4, frames=frames)
    with torch.no_grad():
        attention.attention.to_out[0].weight.normal_()
    tokens = torch.randn(1, 4, 10, 8)  # (B, F, N, C)
    changed = tokens.clone()
    changed[:, 3, 7] = torch.randn(8)  # last frame, token 7
    with torch.no_grad(), frames.use(4):
        out = attention(tokens.flatten(0, 1)).unflatten(0, (1, 4))
        out_changed = attention(changed.flatten(0, 1)).unflatten(0, (1, 4))
    assert not torch.allclose(out[:, 0, 7], out_changed[:, 0, 7])  # no causal mask: frame 0 sees frame 3
    assert torch.equal(out[:, :3, :7], out_changed[:, :3, :7])  # other positions are untouched


def test_first_frame_attention_takes_keys_and_values_from_frame_zero() -> None:
    frames = FrameContext()
    torch.manual_seed(0)
    attn = Attention(query_dim=16, heads=2, dim_head=8)
    tokens = torch.randn(2, 3, 6, 16)  # (B, F, N, C)
    first = tokens[:, :1].expand(-1, 3, -1, -1).flatten(0, 1)
    with torch.no_grad():
        reference = AttnProcessor2_0()(attn, tokens.flatten(0, 1), encoder_hidden_states=first)
        with frames.use(3):
            out = FirstFrameAttnProcessor(frames)(attn, tokens.flatten(0, 1))
            changed = tokens.clone()
            changed[:, 2] += 1.0
            out_changed = FirstFrameAttnProcessor(frames)(attn, changed.flatten(0, 1))
    torch.testing.assert_close(out, reference, rtol=0, atol=1e-6)
    out, out_changed = out.unflatten(0, (2, 3)), out_changed.unflatten(0, (2, 3))
    assert torch.equal(out[:, :2], out_changed[:, :2])  # frame 2 is nobody's key or value
    assert not torch.allclose(out[:, 2], out_changed[:, 2])


def test_timestep_forms_agree() -> None:
    model = make_lamp()
    sample, _, text = video_inputs(frames=3)
    with torch.no_grad():
        number = model(sample, 500, text)
        per_video = model(sample, torch.tensor([500, 500]), text)
        per_frame = model(sample, torch.full((2, 3), 500), text)
    assert torch.equal(number, per_video)
    assert torch.equal(number, per_frame)


def test_bad_layouts_are_clear_errors() -> None:
    model = make_lamp()
    sample, timesteps, text = video_inputs(frames=3)
    with pytest.raises(LampError, match=r"\(batch, channels, frames, height, width\)"):
        model(sample[:, :, 0], timesteps, text)
    with pytest.raises(LampError, match="at least 2 frames"):
        model(sample[:, :, :1], timesteps, text)
    with pytest.raises(LampError, match="encoder_hidden_states"):
        model(sample, timesteps, text[:1])
    with pytest.raises(LampError, match="timestep"):
        model(sample, torch.tensor([1, 2, 3]), text)
    with pytest.raises(LampError, match=r"outside LAMPUNet\.forward"):
        model.unet(sample[:, :, 0], timesteps, encoder_hidden_states=text)


def test_refuses_to_inflate_twice_or_a_non_sd1_unet() -> None:
    model = make_lamp()
    with pytest.raises(LampError, match="already inflated"):
        LAMPUNet.from_unet2d(model.unet)
    with pytest.raises(LampError, match="use_linear_projection"):
        LAMPUNet.from_unet2d(make_unet(use_linear_projection=True))
    with pytest.raises(LampError, match="UNet2DConditionModel"):
        LAMPUNet.from_unet2d(nn.Conv2d(4, 4, 1))


def test_inflates_on_the_meta_device_without_memory() -> None:
    with torch.device("meta"):
        unet = make_unet()
    model = LAMPUNet.from_unet2d(unet)
    assert all(p.is_meta for p in model.parameters())
    assert sum(p.numel() for p in model.trainable_parameters()) > 0
    assert model.unet.conv_in.temporal_conv.weight.shape == (32, 32, 3, 1, 1)
    assert model.unet.config.cross_attention_dim == TEXT_DIM
