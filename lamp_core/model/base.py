"""Loading an SD 1.x base model the ways users hold one: diffusers folder, hub id, or a single file.

Every failure is a LampError naming the source and the reason, raised before any training starts:
missing files, a model that is not SD 1.x (SD 2.x, SDXL, other pipelines), parts that do not fit together,
or a single-file checkpoint that cannot be loaded safely.
"""

from __future__ import annotations

import hashlib
import json
import logging
import pickle
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import torch
from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel
from diffusers.loaders.single_file_utils import create_diffusers_clip_model_from_ldm
from huggingface_hub import snapshot_download
from huggingface_hub.errors import EntryNotFoundError
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import nn
from transformers import AutoConfig, CLIPTextModel, CLIPTokenizer

from lamp_core.errors import LampError

# What identifies a base model: where it came from and a hash of its UNet weights.


@dataclass(frozen=True)
class BaseIdentity:
    """The base a motion was tuned on. `content_hash` decides compatibility; `source` is for people."""

    source: str
    content_hash: str


def unet_content_hash(unet: nn.Module) -> str:
    """SHA-256 over the UNet's state dict: each key, shape and float32 value bytes, keys in sorted order.

    Weights are hashed as float32, so the hash is the same whether the base was read from a diffusers
    folder or a single-file checkpoint, and for fp16 weights upcast to float32. Hash the 2D UNet before
    inflation (inflation renames and adds parameters).
    """
    digest = hashlib.sha256()
    state = unet.state_dict()
    for key in sorted(state):
        tensor = state[key]
        digest.update(f"{key}:{tuple(tensor.shape)};".encode())
        values = tensor.detach().to(device="cpu", dtype=torch.float32).contiguous()
        digest.update(values.numpy().data)
    return "sha256:" + digest.hexdigest()


# Is a model an SD 1.x text-to-image model whose parts fit together? (LAMP inflates only those.)

SD1_DOWN_BLOCKS = frozenset({"CrossAttnDownBlock2D", "DownBlock2D"})
SD1_UP_BLOCKS = frozenset({"CrossAttnUpBlock2D", "UpBlock2D"})
SD1_MID_BLOCKS = frozenset({"UNetMidBlock2DCrossAttn"})


def sd1_unet_problems(config: Mapping[str, Any]) -> list[str]:
    """Reasons a UNet2DConditionModel config is not SD 1.x-shaped (empty when it is)."""
    problems = []
    down, up, mid = config["down_block_types"], config["up_block_types"], config["mid_block_type"]
    if not set(down) <= SD1_DOWN_BLOCKS:
        problems.append(f"down blocks {sorted(set(down) - SD1_DOWN_BLOCKS)} are not SD 1.x blocks")
    if not set(up) <= SD1_UP_BLOCKS:
        problems.append(f"up blocks {sorted(set(up) - SD1_UP_BLOCKS)} are not SD 1.x blocks")
    if mid not in SD1_MID_BLOCKS:
        problems.append(f"mid block {mid!r} is not UNetMidBlock2DCrossAttn")
    if not any(block.startswith("CrossAttn") for block in down):
        problems.append("no cross-attention down block (no text conditioning to inflate)")
    if config["in_channels"] != config["out_channels"]:
        problems.append(f"in_channels {config['in_channels']} != out_channels {config['out_channels']}")
    if config.get("addition_embed_type") is not None:
        problems.append(f"addition_embed_type={config['addition_embed_type']!r} (SDXL-style conditioning)")
    for key in ("class_embed_type", "encoder_hid_dim_type", "time_cond_proj_dim"):
        if config.get(key) is not None:
            problems.append(f"{key}={config[key]!r} (SD 1.x has none)")
    layers = config.get("transformer_layers_per_block", 1)
    if any(n != 1 for n in (layers if isinstance(layers, (list, tuple)) else [layers])):
        problems.append(f"transformer_layers_per_block={layers!r} (SD 1.x: 1; SDXL uses more)")
    if config.get("use_linear_projection"):
        problems.append("use_linear_projection=True (SD 2.x-style transformer projections)")
    if not isinstance(config["cross_attention_dim"], int):
        problems.append(f"cross_attention_dim={config['cross_attention_dim']!r} (SD 1.x: one int)")
    if config.get("resnet_time_scale_shift", "default") != "default":
        problems.append(f"resnet_time_scale_shift={config['resnet_time_scale_shift']!r} (SD 1.x: 'default')")
    if config.get("only_cross_attention") or config.get("dual_cross_attention"):
        problems.append("only/dual cross-attention blocks (SD 1.x has self- and cross-attention)")
    return problems


def sd1_component_problems(
    unet_config: Mapping[str, Any],
    vae_config: Mapping[str, Any],
    text_encoder_config: Any,
    tokenizer_max_length: int,
    scheduler_config: Mapping[str, Any],
) -> list[str]:
    """Reasons the UNet, VAE, text encoder, tokenizer and scheduler configs do not form one SD 1.x model."""
    problems = sd1_unet_problems(unet_config)
    if unet_config["in_channels"] != vae_config["latent_channels"]:
        problems.append(
            f"UNet in_channels {unet_config['in_channels']} != "
            f"VAE latent_channels {vae_config['latent_channels']}"
        )
    text_kind = type(text_encoder_config).__name__
    if text_kind != "CLIPTextConfig":
        problems.append(f"the text encoder is {text_kind.removesuffix('Config')}, not a CLIP text model")
    hidden = getattr(text_encoder_config, "hidden_size", None)
    if hidden != unet_config["cross_attention_dim"]:
        problems.append(
            f"UNet cross_attention_dim {unet_config['cross_attention_dim']} != text width {hidden}"
        )
    positions = getattr(text_encoder_config, "max_position_embeddings", None)
    if positions is not None and tokenizer_max_length > positions:
        problems.append(f"tokenizer max length {tokenizer_max_length} > text encoder positions {positions}")
    prediction = scheduler_config.get("prediction_type", "epsilon")
    if prediction != "epsilon":
        problems.append(f"scheduler prediction_type={prediction!r} (SD 1.x predicts noise: 'epsilon')")
    return problems


#: Diffusers configs used to assemble a single-file checkpoint when none is given (must be local or cached).
DEFAULT_SINGLE_FILE_CONFIG = "stable-diffusion-v1-5/stable-diffusion-v1-5"
SINGLE_FILE_SUFFIXES = (".safetensors", ".ckpt", ".pt", ".pth")

#: What the LAMP reference pipeline forces on the base's scheduler whatever its config says (as diffusers'
#: own StableDiffusionPipeline does for old configs): DDIM without clipping x0, timesteps offset by one.
REFERENCE_SCHEDULER_SETTINGS: dict[str, Any] = {"clip_sample": False, "steps_offset": 1}

_LOG = logging.getLogger(__name__)
_FORCED_SCHEDULER_LOGGED: set[str] = set()
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
_LOAD_ERRORS = (OSError, ValueError, RuntimeError, KeyError, TypeError, SafetensorError, EntryNotFoundError)
_T = TypeVar("_T")


@dataclass
class SDBase:
    """A loaded SD 1.x base: components, where it came from, and the content hash of its UNet."""

    unet: UNet2DConditionModel
    vae: AutoencoderKL
    text_encoder: CLIPTextModel
    tokenizer: CLIPTokenizer
    scheduler_config: dict[str, Any]
    source: str
    content_hash: str

    @property
    def identity(self) -> BaseIdentity:
        return BaseIdentity(source=self.source, content_hash=self.content_hash)

    def to(self, device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> SDBase:
        """Move (and optionally cast) the UNet, VAE and text encoder in place; returns self."""
        # Passing `dtype=None` to a diffusers model warns about casting, so a plain move passes no dtype.
        cast = {} if dtype is None else {"dtype": dtype}
        for module in (self.unet, self.vae, self.text_encoder):
            module.to(device=device, **cast)
        return self


def load_base(
    source: str | Path,
    *,
    torch_dtype: torch.dtype | None = None,
    single_file_config: str | Path = DEFAULT_SINGLE_FILE_CONFIG,
    local_files_only: bool = False,
    cache_dir: str | Path | None = None,
) -> SDBase:
    """Load and check an SD 1.x base, every component frozen.

    source: a diffusers folder, a hub id (resolved through the Hugging Face cache as diffusers does), or a
        single-file original-format checkpoint (`.safetensors`, or `.ckpt`/`.pt`/`.pth` read with
        `torch.load(weights_only=True)`; pickles holding arbitrary objects are refused).
    single_file_config: diffusers folder or hub id whose configs (UNet, VAE, text encoder, tokenizer,
        scheduler) describe a single-file checkpoint; used only for single files.
    torch_dtype: cast the components after loading. The content hash is taken before, on float32 weights,
        so it does not depend on this choice or on the source format.
    """
    text = str(source)
    path = Path(source).expanduser()
    hub = dict(local_files_only=local_files_only, cache_dir=None if cache_dir is None else str(cache_dir))
    if path.is_dir():
        unet, vae, text_encoder, tokenizer, scheduler_config = _load_folder(str(path), text, hub)
    elif path.is_file():
        if path.suffix.lower() not in SINGLE_FILE_SUFFIXES:
            raise LampError(f"{text}: not a model file (expected one of {', '.join(SINGLE_FILE_SUFFIXES)})")
        unet, vae, text_encoder, tokenizer, scheduler_config = _load_single_file(
            path, single_file_config, hub
        )
    elif path.suffix.lower() in SINGLE_FILE_SUFFIXES or not _HUB_ID.match(text):
        raise LampError(f"{text}: no such folder or file")
    elif path.parent.is_dir():  # e.g. "models/base" before it was built: a path, not a hub id
        raise LampError(f"{text}: no such folder or file (and not taken as a hub id: {path.parent}/ exists)")
    else:
        unet, vae, text_encoder, tokenizer, scheduler_config = _load_folder(text, text, hub)

    for name, module in (("unet", unet), ("vae", vae), ("text_encoder", text_encoder)):
        if any(t.is_meta for t in module.state_dict().values()):
            raise LampError(f"{text}: the {name} weights are incomplete (some are not in the checkpoint)")
        module.requires_grad_(False).eval()
    content_hash = unet_content_hash(unet)
    scheduler_config = reference_scheduler_config(scheduler_config, text)
    if torch_dtype is not None:
        for module in (unet, vae, text_encoder):
            module.to(dtype=torch_dtype)
    return SDBase(unet, vae, text_encoder, tokenizer, scheduler_config, text, content_hash)


def reference_scheduler_config(config: dict[str, Any], source: str) -> dict[str, Any]:
    """`config` with `REFERENCE_SCHEDULER_SETTINGS` forced, logging what changed once per source.

    A base whose scheduler config lacks `clip_sample` would otherwise get diffusers' default (clipping on).
    """
    changed = {k: v for k, v in REFERENCE_SCHEDULER_SETTINGS.items() if config.get(k, "unset") != v}
    if changed and source not in _FORCED_SCHEDULER_LOGGED:
        _FORCED_SCHEDULER_LOGGED.add(source)
        was = ", ".join(f"{k}={config.get(k, 'unset')}" for k in changed)
        now = ", ".join(f"{k}={v}" for k, v in changed.items())
        _LOG.warning(
            "%s: scheduler set to %s as the LAMP reference pipeline does (config had %s)", source, now, was
        )
    return {**config, **REFERENCE_SCHEDULER_SETTINGS}


def _load_folder(location: str, shown: str, hub: dict[str, Any]) -> tuple:
    """Components of a diffusers folder or hub repo; configs are checked before any weights are read."""
    folder = Path(location)
    if folder.is_dir() and not (folder / "unet").is_dir():
        index = folder / "model_index.json"
        kind = f" (model_index.json: {_pipeline_class(index)})" if index.is_file() else ""
        raise LampError(f"{shown}: not a diffusers SD 1.x folder: it has no unet/ subfolder{kind}")
    tokenizer, scheduler_config = _check_configs(location, shown, hub)
    unet = _loading(
        shown, "UNet", lambda: UNet2DConditionModel.from_pretrained(location, subfolder="unet", **hub)
    )
    vae = _loading(shown, "VAE", lambda: AutoencoderKL.from_pretrained(location, subfolder="vae", **hub))
    text_encoder = _loading(
        shown,
        "text encoder",
        lambda: CLIPTextModel.from_pretrained(location, subfolder="text_encoder", **hub),
    )
    return unet, vae, text_encoder, tokenizer, scheduler_config


def _load_single_file(path: Path, config: str | Path, hub: dict[str, Any]) -> tuple:
    """Components of an original-format (LDM) SD 1.x checkpoint, built by diffusers' single-file loaders."""
    checkpoint = _read_checkpoint(path)
    shown = str(path)
    if not any(key.startswith("model.diffusion_model.") for key in checkpoint):
        raise LampError(f"{shown}: not an original-format SD checkpoint (no model.diffusion_model.* weights)")
    if any(key.startswith("conditioner.embedders.") for key in checkpoint):
        raise LampError(f"{shown}: an SDXL checkpoint, not SD 1.x")
    if not any(key.startswith("cond_stage_model.transformer.") for key in checkpoint):
        other = (
            "an SD 2.x checkpoint (OpenCLIP text encoder)"
            if any(key.startswith("cond_stage_model.model.") for key in checkpoint)
            else "no CLIP text encoder weights"
        )
        raise LampError(f"{shown}: not an SD 1.x checkpoint: {other}")

    config_dir = _resolve_single_file_config(config, shown, hub)
    local = {"local_files_only": True}
    tokenizer, scheduler_config = _check_configs(config_dir, f"{shown} (configs from {config})", local)
    unet = _loading(
        shown,
        "UNet",
        lambda: UNet2DConditionModel.from_single_file(
            checkpoint, config=config_dir, subfolder="unet", **local
        ),
    )
    vae = _loading(
        shown,
        "VAE",
        lambda: AutoencoderKL.from_single_file(checkpoint, config=config_dir, subfolder="vae", **local),
    )
    text_encoder = _loading(
        shown,
        "text encoder",
        lambda: create_diffusers_clip_model_from_ldm(
            CLIPTextModel, checkpoint, subfolder="text_encoder", config=config_dir, **local
        ),
    )
    return unet, vae, text_encoder, tokenizer, scheduler_config


def _check_configs(location: str, shown: str, hub: dict[str, Any]) -> tuple:
    """Read the cheap parts (configs, tokenizer) and refuse anything that is not one SD 1.x model."""
    unet_config = _loading(
        shown, "UNet config", lambda: UNet2DConditionModel.load_config(location, subfolder="unet", **hub)
    )
    vae_config = _loading(
        shown, "VAE config", lambda: AutoencoderKL.load_config(location, subfolder="vae", **hub)
    )
    text_config = _loading(
        shown,
        "text encoder config",
        lambda: AutoConfig.from_pretrained(location, subfolder="text_encoder", **hub),
    )
    tokenizer = _loading(
        shown, "tokenizer", lambda: CLIPTokenizer.from_pretrained(location, subfolder="tokenizer", **hub)
    )
    scheduler_config = _loading(
        shown,
        "scheduler config",
        lambda: DDPMScheduler.load_config(location, subfolder="scheduler", **hub),
    )
    problems = sd1_component_problems(
        unet_config, vae_config, text_config, tokenizer.model_max_length, scheduler_config
    )
    if problems:
        raise LampError(f"{shown}: not a usable SD 1.x model: " + "; ".join(problems))
    return tokenizer, dict(scheduler_config)


def _read_checkpoint(path: Path) -> dict[str, torch.Tensor]:
    """A single-file checkpoint's tensors: safetensors, or a pickle read with `weights_only=True` only."""
    if path.suffix.lower() == ".safetensors":
        try:
            checkpoint = load_file(path)
        except (OSError, SafetensorError) as exc:
            raise LampError(f"{path}: not a readable safetensors file ({exc})") from None
    else:
        try:
            checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as exc:
            reason = str(exc).splitlines()[0]
            raise LampError(
                f"{path}: refused: it holds Python objects beyond tensors, and untrusted pickles are never "
                f"fully unpickled ({reason}). Convert it to .safetensors with a tool you trust."
            ) from None
        except (OSError, RuntimeError, EOFError) as exc:
            raise LampError(f"{path}: not a readable PyTorch checkpoint ({exc})") from None
    while isinstance(checkpoint, dict) and isinstance(checkpoint.get("state_dict"), dict):
        checkpoint = checkpoint["state_dict"]
    if not isinstance(checkpoint, dict):
        raise LampError(f"{path}: holds no state dict")
    tensors = {k: v for k, v in checkpoint.items() if isinstance(k, str) and isinstance(v, torch.Tensor)}
    if not tensors:
        raise LampError(f"{path}: holds no tensors")
    return tensors


def _resolve_single_file_config(config: str | Path, shown: str, hub: dict[str, Any]) -> str:
    """A local folder holding the diffusers configs: `config` itself, or its hub snapshot (cache first)."""
    if Path(config).expanduser().is_dir():
        return str(Path(config).expanduser())
    text = str(config)
    if not _HUB_ID.match(text):
        raise LampError(f"{shown}: single_file_config {text!r}: no such folder, and not a hub id")
    try:
        return snapshot_download(
            text,
            allow_patterns=["*.json", "*.txt"],
            local_files_only=hub["local_files_only"],
            cache_dir=hub["cache_dir"],
        )
    except _LOAD_ERRORS as exc:
        raise LampError(
            f"{shown}: single_file_config {text!r} cannot be resolved (not in the Hugging Face cache, and "
            f"downloading {'is off' if hub['local_files_only'] else 'failed'}: {_first_line(exc)}); "
            "pass single_file_config=<a local diffusers SD 1.x folder>"
        ) from None


def _loading(shown: str, what: str, load: Callable[[], _T]) -> _T:
    """Run a library loader, turning its failure into a LampError naming the source and the part."""
    try:
        return load()
    except _LOAD_ERRORS as exc:
        raise LampError(f"{shown}: cannot load the {what} ({_first_line(exc)})") from None


def _pipeline_class(index: Path) -> str:
    try:
        return str(json.loads(index.read_text(encoding="utf-8")).get("_class_name", "unknown"))
    except (OSError, ValueError, AttributeError):
        return "unreadable"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]
