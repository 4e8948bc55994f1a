"""What identifies a base model: where it came from and a hash of its UNet weights."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import torch
from torch import nn


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
