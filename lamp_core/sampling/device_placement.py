"""Where each model runs during sampling, and model-level CPU offload."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

from lamp_core.errors import LampError


@contextmanager
def running_on(module: nn.Module, device: torch.device, offload: bool) -> Iterator[nn.Module]:
    """Run `module` on `device` for the `with` block.

    With `offload`, the module is moved to `device` on entry and back to the CPU on exit (only one model
    occupies the accelerator at a time). Without, it is left where the caller put it.
    """
    if not offload:
        yield module
        return
    module.to(device)
    try:
        yield module
    finally:
        module.to("cpu")
        if device.type == "cuda":
            torch.cuda.empty_cache()


def module_device(module: nn.Module) -> torch.device:
    """The device of a module's first parameter (CPU for a module without parameters)."""
    for parameter in module.parameters():
        return parameter.device
    return torch.device("cpu")


_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def resolve_device(name: str | None = "auto") -> torch.device:
    """`auto` (or None): CUDA when available, else the CPU; otherwise the named device."""
    if name in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError) as exc:
        raise LampError(f"device {name!r}: {exc}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise LampError(f"device {name!r}: CUDA is not available on this machine")
    return device


def resolve_dtype(name: str | None, device: torch.device) -> torch.dtype:
    """`auto` (or None): float16 on CUDA, float32 elsewhere; else float32, float16 or bfloat16."""
    if name in (None, "auto"):
        return torch.float16 if device.type == "cuda" else torch.float32
    if name not in _DTYPES:
        raise LampError(f"dtype {name!r}: expected auto, {', '.join(_DTYPES)}")
    return _DTYPES[name]
