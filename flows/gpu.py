"""The GPU policy of the flows: which stages need a GPU, how many run at once, and which device each gets.

A GPU stage's task carries the tag `lamp-gpu`. Prefect 3 holds a tagged task in Pending until the global
concurrency limit `tag:lamp-gpu` has a free slot, and only then starts it, so GPU stages of all flow runs
on one Prefect server share `slots` GPUs (default: one slot per visible GPU, at least one). Inside a
running GPU task, `claim_gpu` picks a device no other GPU task on this machine holds and the stage sees
only that one (`CUDA_VISIBLE_DEVICES`).

GPU stages by default: `base`, `tune` and `generate`, the stages that train or sample a diffusion model
(training takes ~15 GB and sampling ~6 GB at SD 1.x size, so two on one GPU can run out of memory).
`evaluate` only runs CLIP, small and short, so it shares. `base` runs once, upstream of every motion, so
limiting it costs nothing inside one flow and protects the GPU when two flow runs overlap.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from flows.pipeline import FlowError

GPU_TAG = "lamp-gpu"
GPU_LIMIT = f"tag:{GPU_TAG}"  # the global concurrency limit Prefect enforces for tasks tagged GPU_TAG
DEFAULT_GPU_STAGES = ("base", "tune", "generate")
GPU_STAGES_ENV = "LAMP_GPU_STAGES"  # comma-separated stage names (the part before `@`)
GPU_SLOTS_ENV = "LAMP_GPU_SLOTS"  # GPU stages allowed to run at once when the flow creates the limit


def gpu_stage_groups(stages: Iterable[str] | None = None) -> frozenset[str]:
    """Stage names (before any `@key`) needing a GPU: `stages`, else $LAMP_GPU_STAGES, else the default."""
    if stages is not None:
        return frozenset(stages)
    env = os.environ.get(GPU_STAGES_ENV)
    if env is not None:
        return frozenset(name.strip() for name in env.split(",") if name.strip())
    return frozenset(DEFAULT_GPU_STAGES)


def visible_gpus() -> list[str]:
    """Device ids this process may use: CUDA_VISIBLE_DEVICES if set, else one per `nvidia-smi -L` line."""
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env is not None:
        ids = [d.strip() for d in env.split(",") if d.strip()]
        return [] if ids in ([], ["-1"]) else ids
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        listing = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20, check=True)
    except (OSError, subprocess.SubprocessError):
        return []
    return [str(i) for i, line in enumerate(listing.stdout.splitlines()) if line.startswith("GPU ")]


def default_gpu_slots() -> int:
    """$LAMP_GPU_SLOTS, else one slot per visible GPU, at least one (on a CPU-only machine: one at a time)."""
    env = os.environ.get(GPU_SLOTS_ENV)
    if env is None:
        return max(1, len(visible_gpus()))
    try:
        slots = int(env)
    except ValueError:
        raise FlowError(f"${GPU_SLOTS_ENV}={env!r}: expected a whole number of GPU slots") from None
    if slots < 1:
        raise FlowError(f"${GPU_SLOTS_ENV}={env!r}: needs at least one slot")
    return slots


def ensure_gpu_limit(slots: int | None = None) -> int:
    """Create the GPU concurrency limit on the Prefect server if it is missing; return the limit in force.

    An existing limit is left as it is: whoever set it (the UI, `prefect gcl update`) knows the machine.
    Without the limit Prefect would not hold GPU tasks back at all, which is why every flow calls this first.
    """
    from prefect import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
    from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            return client.read_global_concurrency_limit_by_name(GPU_LIMIT).limit
        except ObjectNotFound:
            pass
        wanted = slots if slots is not None else default_gpu_slots()
        try:
            client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=GPU_LIMIT, limit=wanted))
        except ObjectAlreadyExists:  # another flow run created it a moment ago
            return client.read_global_concurrency_limit_by_name(GPU_LIMIT).limit
        return wanted


def default_lock_dir() -> Path:
    """Where GPU device claims live: one lock file per device, shared by every process on this machine."""
    return Path(tempfile.gettempdir()) / "lamp-gpu-claims"


@contextmanager
def claim_gpu(
    devices: list[str] | None = None, lock_dir: Path | None = None, poll_s: float = 1.0
) -> Iterator[str | None]:
    """Hold one device no other claim on this machine holds, waiting for one to free; None without GPUs.

    The claim is an advisory file lock, so a crashed holder releases it with its process.
    """
    devices = visible_gpus() if devices is None else devices
    if not devices:
        yield None
        return
    lock_dir = lock_dir or default_lock_dir()
    lock_dir.mkdir(parents=True, exist_ok=True)
    while True:
        for device in devices:
            handle = open(lock_dir / f"gpu-{device}.lock", "a")  # noqa: SIM115 - held open for the claim
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                continue
            try:
                yield device
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
                handle.close()
            return
        time.sleep(poll_s)
