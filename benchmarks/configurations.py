"""The two configurations every benchmark compares: `optimised` and `plain`.

plain: float32 weights and compute, attention through the math path (softmax(QK^T)V materialised, the
    eager computation), no gradient checkpointing, torch's AdamW.
optimised: what this project recommends on the device. On CUDA: frozen base weights stored in bfloat16
    (the trainable motion weights, their gradients and AdamW's moments stay float32) under bfloat16
    autocast, SDPA's fused kernels (flash / memory-efficient), gradient checkpointing, fused AdamW, VAE
    and text encoder moved off the GPU once latents and text embeddings are cached, VAE slicing in
    sampling. On a CPU: float32 and SDPA (bfloat16 and checkpointing measured slower there, see
    docs/PERFORMANCE.md). Channels-last, torch.compile and 8-bit AdamW are flags, off unless asked.

Both run with the same torch thread count (the preset's, from params.yaml for `tiny`), so the ratio is
that of the model's configuration alone.
"""

from __future__ import annotations

import contextlib
import importlib.util
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel

from lamp_core.errors import LampError

PRECISIONS = ("fp32", "bf16")
ATTENTION = ("sdpa", "math")


class NotRunnableHere(LampError):
    """The benchmark, as asked, needs hardware or a package this machine lacks (exit code 2)."""


@dataclass(frozen=True)
class RunConfig:
    """How a benchmark runs the model. See the module docstring for `optimised` and `plain`."""

    name: str
    threads: int = 0  # torch intra-op threads; 0: torch's default (one per core)
    precision: str = "fp32"  # fp32, or bf16: frozen weights in bf16 + bf16 autocast
    attention: str = "sdpa"  # sdpa (fused kernels) or math (the eager softmax(QK^T)V path)
    gradient_checkpointing: bool = False
    channels_last: bool = False
    compile: bool = False  # torch.compile the inner UNet
    fused_adamw: bool = False  # torch's fused AdamW kernel
    adam_8bit: bool = False  # bitsandbytes' AdamW8bit (CUDA)
    offload_encoders: bool = False  # VAE and text encoder to the CPU after caching (tuning)
    vae_slicing: bool = False  # decode one frame at a time (sampling)

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise LampError(f"precision must be one of {PRECISIONS}, not {self.precision!r}")
        if self.attention not in ATTENTION:
            raise LampError(f"attention must be one of {ATTENTION}, not {self.attention!r}")
        if isinstance(self.threads, bool) or not isinstance(self.threads, int) or self.threads < 0:
            raise LampError(f"threads must be 0 (torch's default) or more, not {self.threads!r}")

    @property
    def autocast_dtype(self) -> torch.dtype | None:
        return torch.bfloat16 if self.precision == "bf16" else None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> RunConfig:
        return cls(**values)

    def apply_threads(self) -> None:
        """Set torch's intra-op thread count for this process (nothing for 0)."""
        if self.threads:
            torch.set_num_threads(self.threads)

    def check_device(self, device: torch.device) -> None:
        """Refuse options that need hardware or packages this machine lacks."""
        if device.type != "cuda" and self.adam_8bit:
            raise NotRunnableHere(f"{self.name}: 8-bit AdamW (bitsandbytes) needs a CUDA device")
        if self.adam_8bit and importlib.util.find_spec("bitsandbytes") is None:
            raise NotRunnableHere(
                f"{self.name}: 8-bit AdamW needs bitsandbytes (pip install bitsandbytes on the GPU machine)"
            )


def plain_config(threads: int = 0) -> RunConfig:
    """float32, eager (math) attention, no checkpointing: the baseline."""
    return RunConfig(name="plain", threads=threads, precision="fp32", attention="math")


def optimised_config(
    device: torch.device,
    *,
    channels_last: bool = False,
    compile: bool = False,
    adam_8bit: bool = False,
    precision: str | None = None,
    threads: int = 0,
) -> RunConfig:
    """The recommended configuration on `device` (flags add the options that are off by default).

    `threads` is the process's torch thread count; benchmarks give both configurations the same one.
    """
    cuda = device.type == "cuda"
    return RunConfig(
        name="optimised",
        threads=threads,
        precision=precision or ("bf16" if cuda else "fp32"),
        attention="sdpa",
        gradient_checkpointing=cuda,
        channels_last=channels_last,
        compile=compile,
        fused_adamw=cuda and not adam_8bit,
        adam_8bit=adam_8bit,
        offload_encoders=cuda,
        vae_slicing=cuda,
    )


@contextlib.contextmanager
def attention_backend(config: RunConfig) -> Iterator[None]:
    """Within the block, every `scaled_dot_product_attention` call takes the configuration's path.

    All attention of the LAMP UNet (first-frame, cross- and temporal attention) goes through SDPA, so the
    math backend turns the whole model to the eager computation without replacing any processor.
    """
    if config.attention == "math":
        with sdpa_kernel(SDPBackend.MATH):
            yield
    else:
        yield


def autocast(config: RunConfig, device: torch.device) -> contextlib.AbstractContextManager:
    """bfloat16 autocast for `bf16`, nothing for `fp32`."""
    if config.autocast_dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=config.autocast_dtype)
