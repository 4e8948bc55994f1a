"""Resumable training checkpoints, written atomically: a run killed at any moment resumes from the last one.

A checkpoint is a folder `step_0000100/` in the run's checkpoint directory:
- `trainable.safetensors`: the trainable parameters (by `named_parameters()` name);
- `optimizer.pt`: optimizer, learning-rate scheduler and (fp16) gradient-scaler state, read back with
  `weights_only=True`;
- `state.json`: the step, the run's fingerprint, the logged loss history, and per-process weight digests.

Random state needs no saving: every random draw of step s derives from (seed, s, process), so the step
number restores it exactly. A checkpoint is written as `.step_0000100.partial/`, flushed to disk, and
renamed; only then are older checkpoints removed, so a complete checkpoint always exists once the first
one is written. Partial folders left by a kill are ignored and cleared.
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from lamp_core.atomic_write import recover_interrupted_replace, replacing
from lamp_core.errors import LampError

logger = logging.getLogger(__name__)

CHECKPOINT_PREFIX = "step_"
WEIGHTS_FILE = "trainable.safetensors"
OPTIMIZER_FILE = "optimizer.pt"
STATE_FILE = "state.json"
CHECKPOINT_FORMAT = "lamp-tune-checkpoint"
CHECKPOINT_VERSION = 1


@dataclass
class Checkpoint:
    """Everything needed to continue a run after `step` steps."""

    step: int
    fingerprint: str
    weights: dict[str, torch.Tensor]
    optimizer: dict[str, Any]
    lr_scheduler: dict[str, Any]
    grad_scaler: dict[str, Any] | None = None
    history: list[dict[str, float]] = field(default_factory=list)
    rank_digests: list[str] = field(default_factory=list)


def checkpoint_name(step: int) -> str:
    return f"{CHECKPOINT_PREFIX}{step:07d}"


def save_checkpoint(directory: str | Path, checkpoint: Checkpoint) -> Path:
    """Write `checkpoint` under `directory` atomically, then remove every other checkpoint there.

    On failure (disk full, unwritable folder) the partial folder is removed, earlier checkpoints are left
    as they were, and LampError names the folder and the reason.
    """
    directory = Path(directory)
    final = directory / checkpoint_name(checkpoint.step)
    state = {
        "format": CHECKPOINT_FORMAT,
        "format_version": CHECKPOINT_VERSION,
        "step": checkpoint.step,
        "fingerprint": checkpoint.fingerprint,
        "history": checkpoint.history,
        "rank_digests": checkpoint.rank_digests,
    }
    weights = {name: t.detach().to("cpu").contiguous() for name, t in checkpoint.weights.items()}
    try:
        # the same step saved before (e.g. a re-run that ended there) is replaced
        with replacing(final, folder=True, durable=True) as partial:
            save_file(weights, partial / WEIGHTS_FILE)
            torch.save(
                {
                    "optimizer": checkpoint.optimizer,
                    "lr_scheduler": checkpoint.lr_scheduler,
                    "grad_scaler": checkpoint.grad_scaler,
                },
                partial / OPTIMIZER_FILE,
            )
            (partial / STATE_FILE).write_text(json.dumps(state, indent=1) + "\n", encoding="utf-8")
    except OSError as exc:
        kept = [p.name for p in _complete_checkpoints(directory) if p != final]
        note = f"; kept {kept[-1]}" if kept else ""
        raise LampError(final, f"cannot write the checkpoint ({exc.strerror or exc}){note}") from None
    for other in _complete_checkpoints(directory):
        if other != final:
            shutil.rmtree(other, ignore_errors=True)
    return final


def load_latest_checkpoint(directory: str | Path, fingerprint: str, max_step: int) -> Checkpoint | None:
    """The newest complete checkpoint of a run with `fingerprint` and at most `max_step` steps, or None.

    Checkpoints of other settings or data (another fingerprint) are not resumed from (the next save
    removes them). A checkpoint that matches but cannot be read is a LampError.
    """
    directory = Path(directory)
    for folder in reversed(_complete_checkpoints(directory)):
        state = _read_state(folder)
        if state is None or state.get("fingerprint") != fingerprint or int(state["step"]) > max_step:
            logger.warning(
                "%s: not resumed from (other settings, data or more steps); it will be replaced", folder
            )
            continue
        try:
            weights = load_file(folder / WEIGHTS_FILE)
            optimizer = torch.load(folder / OPTIMIZER_FILE, map_location="cpu", weights_only=True)
        except (OSError, SafetensorError, RuntimeError, EOFError) as exc:
            raise LampError(
                folder, f"cannot read the checkpoint ({exc}); delete the folder to train from the start"
            ) from None
        return Checkpoint(
            step=int(state["step"]),
            fingerprint=fingerprint,
            weights=weights,
            optimizer=optimizer["optimizer"],
            lr_scheduler=optimizer["lr_scheduler"],
            grad_scaler=optimizer.get("grad_scaler"),
            history=list(state.get("history") or []),
            rank_digests=list(state.get("rank_digests") or []),
        )
    return None


def latest_checkpoint_step(directory: str | Path) -> int | None:
    """The step of the newest complete checkpoint in `directory` (any run), or None."""
    folders = _complete_checkpoints(Path(directory))
    return int(folders[-1].name[len(CHECKPOINT_PREFIX) :]) if folders else None


def remove_partial_checkpoints(directory: str | Path) -> None:
    """Remove folders a killed run left half-written (never complete checkpoints).

    A kill while a checkpoint replaced one of the same step leaves the older one aside: it is restored.
    """
    directory = Path(directory)
    if directory.is_dir():
        for aside in directory.glob(f".{CHECKPOINT_PREFIX}*.old"):
            recover_interrupted_replace(aside.with_name(aside.name[1 : -len(".old")]))
        for partial in directory.glob(f".{CHECKPOINT_PREFIX}*.partial"):
            shutil.rmtree(partial, ignore_errors=True)


def _complete_checkpoints(directory: Path) -> list[Path]:
    """Complete checkpoint folders, oldest first."""
    if not directory.is_dir():
        return []
    folders = [
        p
        for p in directory.glob(f"{CHECKPOINT_PREFIX}*")
        if p.is_dir() and p.name[len(CHECKPOINT_PREFIX) :].isdigit()
    ]
    return sorted(folders, key=lambda p: int(p.name[len(CHECKPOINT_PREFIX) :]))


def _read_state(folder: Path) -> dict[str, Any] | None:
    try:
        state = json.loads((folder / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT or "step" not in state:
        return None
    return state
