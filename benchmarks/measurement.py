"""What the benchmarks measure with: peak memory, device synchronisation, the machine's description,
GPUs' bfloat16 peak throughput (for model-FLOPs utilisation) and the machine's own float32 matmul rate.

Matmul rate. A model's FLOP/s means little on a CPU without the machine's limit beside it. Every timing
worker ends by timing a 2048x2048 float32 matmul on its device with the threads its configurations ran
with (best of several); the benchmarks report the model's achieved FLOP/s over that rate as
`matmul_ratio`, a figure comparable between AVX2 and AVX-512 machines.

Peak memory. On CUDA: `torch.cuda.max_memory_allocated` (tensors) and `max_memory_reserved` (the caching
allocator's pool), reset at the start of the measured phase, so they cover the resident model and the
steps, not set-up. On a CPU: the process's peak resident set size (VmHWM in /proc/self/status), reset
at the start of the measured phase by writing 5 to /proc/self/clear_refs (Linux >= 4.0); the
resident model counts, set-up transients (building the latent cache) do not. Each configuration runs in a
fresh process (`workers.py`), so memory one configuration freed but the allocator kept cannot inflate
another's figure. Where the reset is not allowed, the lifetime peak (getrusage ru_maxrss) is reported
and marked so.
"""

from __future__ import annotations

import os
import platform
import resource
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch._subclasses.fake_tensor import FakeTensorMode
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

# Dense bfloat16 tensor-core peaks from the vendors' datasheets, TFLOP/s, by a substring of
# torch.cuda.get_device_name(); the first match wins, so specific names come first.
BF16_PEAK_TFLOPS: tuple[tuple[str, float], ...] = (
    ("H100 PCIe", 756.0),
    ("H100", 989.4),  # SXM
    ("H200", 989.4),
    ("A100", 312.0),
    ("L40S", 362.0),
    ("L4", 121.0),
    ("RTX 4090", 165.2),
    ("RTX 3090", 71.0),
)
_MB = 1024 * 1024


def bf16_peak_tflops(gpu_name: str) -> float | None:
    """The GPU's dense bf16 peak in TFLOP/s, or None when it is not in `BF16_PEAK_TFLOPS`."""
    for marker, peak in BF16_PEAK_TFLOPS:
        if marker.lower() in gpu_name.lower():
            return peak
    return None


def synchronize(device: torch.device) -> None:
    """Wait for the device's queued work (timings on CUDA are otherwise launch times)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class PeakMemory:
    """Peak memory of a phase: `reset()` at its start, `read()` at its end (see the module docstring)."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.rss_reset = False
        self.rss_at_reset_kb: int | None = None

    def reset(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
        self.rss_at_reset_kb = _status_kb("VmRSS")
        try:
            Path("/proc/self/clear_refs").write_text("5")
            self.rss_reset = True
        except OSError:
            self.rss_reset = False

    def read(self) -> dict[str, Any]:
        """Peak figures in MiB: `peak_memory_mb` is the headline (CUDA allocated, else host RSS)."""
        host = _status_kb("VmHWM") if self.rss_reset else None
        lifetime = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
        figures: dict[str, Any] = {
            "peak_rss_mb": round((host if host is not None else lifetime) / 1024, 1),
            "peak_rss_scope": "measured phase" if host is not None else "process lifetime",
            "process_peak_rss_mb": round(lifetime / 1024, 1),
            # Resident when the phase began: libraries, model, optimizer state (context for the peak).
            "rss_at_start_mb": round(self.rss_at_reset_kb / 1024, 1) if self.rss_at_reset_kb else None,
        }
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            figures["peak_cuda_allocated_mb"] = round(torch.cuda.max_memory_allocated(self.device) / _MB, 1)
            figures["peak_cuda_reserved_mb"] = round(torch.cuda.max_memory_reserved(self.device) / _MB, 1)
            figures["peak_memory_mb"] = figures["peak_cuda_allocated_mb"]
            figures["peak_memory_kind"] = "cuda max_memory_allocated"
        else:
            figures["peak_memory_mb"] = figures["peak_rss_mb"]
            figures["peak_memory_kind"] = f"host peak RSS ({figures['peak_rss_scope']})"
        return figures


def _status_kb(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def count_flops(compute: Callable[[], object]) -> int:
    """FLOPs of `compute()` (matmuls, convolutions, attention; no elementwise ops), counted on fake tensors
    (shapes only: no memory, no device time) through the math attention path, whose matmuls are the FLOPs
    an SDPA kernel performs. Tensors that `compute` creates are fake."""
    with (
        FlopCounterMode(display=False) as counter,
        FakeTensorMode(allow_non_fake_inputs=True),
        sdpa_kernel(SDPBackend.MATH),
    ):
        compute()
    return counter.get_total_flops()


MATMUL_SIZE = 2048
MATMUL_REPEATS = 7


def matmul_tflops(device: torch.device, size: int = MATMUL_SIZE, repeats: int = MATMUL_REPEATS) -> float:
    """The device's float32 matmul rate in TFLOP/s with the current torch threads: best of `repeats`."""
    generator = torch.Generator().manual_seed(0)
    a, b = (torch.randn(size, size, generator=generator).to(device) for _ in range(2))
    torch.matmul(a, b)  # the first call picks kernels and allocates
    best = float("inf")
    for _ in range(repeats):
        synchronize(device)
        start = time.perf_counter()
        torch.matmul(a, b)
        synchronize(device)
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best / 1e12


def summarise_seconds(samples: list[float]) -> dict[str, float]:
    """Median (the headline), min and max of per-step or per-video seconds."""
    return {
        "median_s": statistics.median(samples),
        "min_s": min(samples),
        "max_s": max(samples),
        "samples": len(samples),
    }


def machine_info(device: torch.device) -> dict[str, Any]:
    """Where a figure was measured: CPU model and cores, torch threads, library versions, GPU, load."""
    import diffusers

    info: dict[str, Any] = {
        "cpu_model": _cpu_model(),
        "cpu_cores": os.cpu_count(),
        "cpu_cores_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "torch_threads": torch.get_num_threads(),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "torch": torch.__version__,
        "diffusers": diffusers.__version__,
        "device": device.type,
    }
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        info |= {
            "gpu": props.name,
            "gpu_memory_gb": round(props.total_memory / 1e9, 1),
            "cuda": torch.version.cuda,
            "gpu_bf16_peak_tflops": bf16_peak_tflops(props.name),
        }
    return info


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"
