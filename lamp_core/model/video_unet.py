"""LAMP's video UNet: a pretrained SD 1.x `UNet2DConditionModel` inflated in place.

Following how diffusers adds AnimateDiff to image UNets, nothing of diffusers is forked: the image UNet
keeps running its own forward on `(batch * frames)` images, with

- every image-feature conv wrapped in a `TemporalSpatialConv` (conv_in, conv_out, both convs and the
  shortcut of every ResNet block, every down/upsampler conv);
- `attn1` of every transformer block given a `FirstFrameAttnProcessor`;
- every `BasicTransformerBlock` wrapped in a `TemporalTransformerBlock` (temporal attention after it);
- with `group_norm="video"`, ResNet GroupNorms and `conv_norm_out` replaced by `VideoGroupNorm`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from fnmatch import fnmatchcase

import torch
from diffusers import UNet2DConditionModel
from diffusers.models.attention import BasicTransformerBlock
from diffusers.models.downsampling import Downsample2D
from diffusers.models.resnet import ResnetBlock2D
from diffusers.models.transformers.transformer_2d import Transformer2DModel
from diffusers.models.upsampling import Upsample2D
from torch import nn

from lamp_core.errors import LampError

from .base import BaseIdentity, sd1_unet_problems
from .config import InflationConfig
from .first_frame_attention import FirstFrameAttnProcessor
from .frame_context import FrameContext
from .temporal_attention import TemporalSelfAttention, TemporalTransformerBlock
from .temporal_conv import TemporalSpatialConv
from .video_norm import VideoGroupNorm

#: The reference code's trainable set: temporal convs, gates, temporal attention's q/k/v/out projections
#: (its LayerNorm stays frozen, as the reference's `norm_temp`), and attn1's query projection.
DEFAULT_TRAINABLE_PATTERNS: tuple[str, ...] = (
    "*.temporal_conv.*",
    "*.gate.*",
    "*.temporal_attention.attention.*",
    "*.attn1.to_q.*",
)


class LAMPUNet(nn.Module):
    """The inflated video UNet. Build it with `LAMPUNet.from_unet2d(unet, config)`.

    Tensor layout (diffusers' video convention): `sample` and output are `(batch, channels, frames,
    height, width)`; any frame count >= 2. `encoder_hidden_states` is `(batch, tokens, dim)`, one text
    embedding per video shared by all its frames.
    """

    def __init__(
        self,
        unet: UNet2DConditionModel,
        config: InflationConfig,
        frames: FrameContext,
        base_identity: BaseIdentity | None,
    ) -> None:
        super().__init__()
        self.unet = unet
        self.inflation = config
        self.base_identity = base_identity
        self.trainable_patterns: tuple[str, ...] = ()
        self._frames = frames
        self._channels_last = False
        self._motion_names = frozenset(_motion_parameter_names(self))
        # Pretrained values of base parameters that tuning or a loaded motion may change (attn1.to_q by
        # default), so that switching motion or resetting is exact without reloading the base.
        self._base_originals: dict[str, torch.Tensor] = {}

    @classmethod
    def from_unet2d(
        cls,
        unet: UNet2DConditionModel,
        config: InflationConfig | None = None,
        *,
        base_identity: BaseIdentity | None = None,
        trainable_patterns: Iterable[str] = DEFAULT_TRAINABLE_PATTERNS,
    ) -> LAMPUNet:
        """Inflate an SD 1.x UNet in place (it becomes `.unet` of the result) and select the trainable set.

        The new layers start at zero, so the result computes the image UNet's output for every frame of
        a video whose frames are equal. Temporal attention's q/k/v projections start random (torch's
        global RNG): seed before inflating for a reproducible run. Works on the `meta` device too.
        """
        if not isinstance(unet, UNet2DConditionModel):
            raise LampError(f"expected a diffusers UNet2DConditionModel, got {type(unet).__name__}")
        if any(isinstance(m, (TemporalSpatialConv, TemporalTransformerBlock)) for m in unet.modules()):
            raise LampError("this UNet is already inflated (load a fresh base to inflate again)")
        problems = sd1_unet_problems(unet.config)
        if problems:
            raise LampError("cannot inflate a UNet that is not SD 1.x-shaped: " + "; ".join(problems))
        config = config or InflationConfig.paper()
        frames = FrameContext()
        _inflate(unet, config, frames)
        model = cls(unet, config, frames, base_identity)
        model.set_trainable(trainable_patterns)
        return model

    @property
    def dtype(self) -> torch.dtype:
        return self.unet.dtype

    @property
    def device(self) -> torch.device:
        return self.unet.device

    def forward(
        self,
        sample: torch.Tensor,
        timestep: torch.Tensor | float | int,
        encoder_hidden_states: torch.Tensor,
    ) -> torch.Tensor:
        """Predict noise for a batch of videos.

        sample: (batch, channels, frames, height, width) latents.
        timestep: a number, (batch,) one per video, or (batch, frames) one per frame.
        encoder_hidden_states: (batch, tokens, dim).
        Returns (batch, channels, frames, height, width).
        """
        if sample.ndim != 5:
            raise LampError(
                f"sample must be (batch, channels, frames, height, width), got shape {tuple(sample.shape)}"
            )
        batch, _, frames = sample.shape[:3]
        if frames < 2:
            raise LampError(f"a video needs at least 2 frames, got {frames}")
        if encoder_hidden_states.ndim != 3 or encoder_hidden_states.shape[0] != batch:
            raise LampError(
                f"encoder_hidden_states must be ({batch}, tokens, dim), "
                f"got {tuple(encoder_hidden_states.shape)}"
            )
        images = sample.transpose(1, 2).flatten(0, 1)  # (B*F, C, H, W)
        if self._channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        timesteps = _per_frame_timesteps(timestep, batch, frames, sample.device)
        text = encoder_hidden_states.repeat_interleave(frames, dim=0)
        with self._frames.use(frames):
            out = self.unet(images, timesteps, encoder_hidden_states=text, return_dict=False)[0]
        return out.unflatten(0, (batch, frames)).transpose(1, 2).contiguous()

    # ----- trainable set -----

    def set_trainable(self, patterns: Iterable[str]) -> list[str]:
        """Make exactly the parameters whose names match a glob pattern trainable; freeze the rest.

        Names are those of `named_parameters()`, e.g. `unet.down_blocks.0.attentions.0.transformer_blocks.0
        .block.attn1.to_q.weight`. A pattern matching nothing is an error. Returns the selected names.
        """
        patterns = tuple(patterns)
        params = dict(self.named_parameters())
        unmatched = [p for p in patterns if not any(fnmatchcase(name, p) for name in params)]
        if unmatched:
            raise LampError(f"trainable pattern(s) match no parameter: {', '.join(unmatched)}")
        selected = sorted(name for name in params if any(fnmatchcase(name, p) for p in patterns))
        chosen = set(selected)
        for name, param in params.items():
            param.requires_grad_(name in chosen)
        for name in chosen - self._motion_names:
            self._remember_base(name, params[name])
        self.trainable_patterns = patterns
        return selected

    def trainable_parameters(self) -> list[nn.Parameter]:
        """The parameters that require grad (what the optimizer gets)."""
        return [p for p in self.parameters() if p.requires_grad]

    # ----- motion weights -----

    def motion_state_dict(self) -> dict[str, torch.Tensor]:
        """The motion weights: every parameter of the new layers plus the tuned base projections."""
        return {
            name: param.detach()
            for name, param in self.named_parameters()
            if name in self._motion_names or name in self._base_originals
        }

    def load_motion_state_dict(self, state: Mapping[str, torch.Tensor]) -> None:
        """Load motion weights (from `motion_state_dict`), replacing any motion loaded or tuned before.

        Base parameters the previous motion changed are first put back to their pretrained values, so the
        result does not depend on what was loaded before. Nothing changes if `state` does not fit.
        """
        params = dict(self.named_parameters())
        missing = sorted(self._motion_names - state.keys())
        unknown = sorted(name for name in state if name not in params)
        mismatched = [
            f"{name} {tuple(state[name].shape)} vs {tuple(params[name].shape)}"
            for name in state
            if name in params and tuple(state[name].shape) != tuple(params[name].shape)
        ]
        problems = []
        if missing:
            problems.append(f"{len(missing)} motion weights missing (e.g. {missing[0]})")
        if unknown:
            problems.append(f"{len(unknown)} names unknown to this model (e.g. {unknown[0]})")
        if mismatched:
            problems.append(f"{len(mismatched)} shapes differ (e.g. {mismatched[0]})")
        if problems:
            raise LampError("motion weights do not fit this model: " + "; ".join(problems))
        with torch.no_grad():
            self._restore_base()
            for name, value in state.items():
                if name not in self._motion_names:
                    self._remember_base(name, params[name])
                params[name].copy_(value)

    def reset_motion(self) -> None:
        """Back to "no motion": zero-initialised new layers and pretrained base values (the image UNet)."""
        with torch.no_grad():
            self._restore_base()
            for module in self.modules():
                if isinstance(module, (TemporalSpatialConv, TemporalSelfAttention)):
                    module.reset_motion()

    def _remember_base(self, name: str, param: nn.Parameter) -> None:
        if name not in self._base_originals:
            self._base_originals[name] = param.detach().clone()

    def _restore_base(self) -> None:
        params = dict(self.named_parameters())
        for name, original in self._base_originals.items():
            params[name].copy_(original)

    # ----- memory and speed -----

    def enable_gradient_checkpointing(self) -> None:
        """Recompute ResNet and transformer blocks in backward (diffusers' checkpointing, frame-aware)."""
        self.unet.enable_gradient_checkpointing(gradient_checkpointing_func=self._frames.checkpoint)

    def disable_gradient_checkpointing(self) -> None:
        self.unet.disable_gradient_checkpointing()

    def enable_channels_last(self) -> None:
        """Store conv weights and activations channels-last (faster convs on recent GPUs in fp16/bf16).

        Call it before creating the optimizer. The temporal convs' weights become channels-last-3d.
        """
        with torch.no_grad():
            for param in self.parameters():
                if param.ndim == 4:
                    param.data = param.data.contiguous(memory_format=torch.channels_last)
                elif param.ndim == 5:
                    param.data = param.data.contiguous(memory_format=torch.channels_last_3d)
        self._channels_last = True


def _per_frame_timesteps(
    timestep: torch.Tensor | float | int, batch: int, frames: int, device: torch.device
) -> torch.Tensor:
    """Timesteps as (batch * frames,), from a number, (batch,) or (batch, frames)."""
    t = torch.as_tensor(timestep, device=device)
    if t.ndim == 0:
        t = t.expand(batch)
    if t.shape == (batch,):
        t = t[:, None].expand(batch, frames)
    if t.shape != (batch, frames):
        raise LampError(f"timestep must be a number, ({batch},) or ({batch}, {frames}); got {tuple(t.shape)}")
    return t.reshape(-1)


def _inflate(unet: UNet2DConditionModel, config: InflationConfig, frames: FrameContext) -> None:
    """Wrap and replace the UNet's modules in place (see the module docstring)."""
    convs: list[tuple[nn.Module, nn.Conv2d]] = [(unet, unet.conv_in), (unet, unet.conv_out)]
    norms: list[tuple[nn.Module, nn.GroupNorm]] = []
    if isinstance(unet.conv_norm_out, nn.GroupNorm):
        norms.append((unet, unet.conv_norm_out))
    transformers: list[Transformer2DModel] = []
    for name, module in unet.named_modules():
        if isinstance(module, ResnetBlock2D):
            convs += [
                (module, c) for c in (module.conv1, module.conv2, module.conv_shortcut) if c is not None
            ]
            norms += [(module, module.norm1), (module, module.norm2)]
        elif isinstance(module, (Downsample2D, Upsample2D)):
            convs += [(module, c) for c in module.children() if type(c) is nn.Conv2d]
        elif isinstance(module, Transformer2DModel):
            transformers.append(module)
            for index, block in enumerate(module.transformer_blocks):
                if not isinstance(block, BasicTransformerBlock):
                    raise LampError(f"{name}.transformer_blocks.{index}: not a BasicTransformerBlock")
                FirstFrameAttnProcessor.check_supported(
                    block.attn1, f"{name}.transformer_blocks.{index}.attn1"
                )

    wrapped: dict[int, TemporalSpatialConv] = {}
    for parent, conv in convs:
        if id(conv) not in wrapped:
            wrapped[id(conv)] = TemporalSpatialConv(conv, frames, config.temporal_kernel_size)
        _replace_child(parent, conv, wrapped[id(conv)])
    if config.group_norm == "video":
        for parent, norm in norms:
            _replace_child(parent, norm, VideoGroupNorm(norm, frames))

    processor = FirstFrameAttnProcessor(frames)
    for transformer in transformers:
        for index, block in enumerate(transformer.transformer_blocks):
            block.attn1.set_processor(processor)
            transformer.transformer_blocks[index] = TemporalTransformerBlock(block, frames)


def _replace_child(parent: nn.Module, old: nn.Module, new: nn.Module) -> None:
    """Replace `old` under every attribute name of `parent` that holds it (diffusers aliases some convs)."""
    for key, child in list(parent._modules.items()):
        if child is old:
            setattr(parent, key, new)


def _motion_parameter_names(model: nn.Module) -> list[str]:
    """Names of the parameters LAMP adds (temporal convs, gates, temporal attention)."""
    names = []
    for prefix, module in model.named_modules():
        if isinstance(module, TemporalSpatialConv):
            owned = [("temporal_conv", module.temporal_conv), ("gate", module.gate)]
        elif isinstance(module, TemporalSelfAttention):
            owned = [("", module)]
        else:
            continue
        for sub, submodule in owned:
            base = f"{prefix}.{sub}" if sub else prefix
            names += [f"{base}.{name}" for name, _ in submodule.named_parameters()]
    return names
