"""Checkpoints: atomic, newest first, only of the same run, and nothing lost when the disk is full."""

from __future__ import annotations

import errno

import pytest
import torch

from lamp_core.errors import LampError
from lamp_core.training import Checkpoint, latest_checkpoint_step, load_latest_checkpoint, save_checkpoint
from lamp_core.training import checkpoint as checkpoint_module


def _checkpoint(step: int, fingerprint: str = "run") -> Checkpoint:
    weight = torch.nn.Parameter(torch.full((3, 2), float(step)))
    optimizer = torch.optim.AdamW([weight], lr=1e-3)
    weight.grad = torch.ones_like(weight)
    optimizer.step()
    return Checkpoint(
        step=step,
        fingerprint=fingerprint,
        weights={"layer.weight": weight},
        optimizer=optimizer.state_dict(),
        lr_scheduler={"last_epoch": step},
        history=[{"step": step, "loss": 0.5, "lr": 1e-3}],
        rank_digests=["abc"],
    )


def test_save_then_resume_from_the_newest(tmp_path) -> None:
    save_checkpoint(tmp_path, _checkpoint(2))
    save_checkpoint(tmp_path, _checkpoint(4))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["step_0000004"]  # the older one is gone

    loaded = load_latest_checkpoint(tmp_path, "run", max_step=10)
    assert loaded is not None and loaded.step == 4
    assert torch.equal(loaded.weights["layer.weight"], _checkpoint(4).weights["layer.weight"].detach())
    assert loaded.optimizer["state"][0]["exp_avg"].shape == (3, 2)
    assert loaded.history == [{"step": 4, "loss": 0.5, "lr": 1e-3}] and loaded.rank_digests == ["abc"]
    assert load_latest_checkpoint(tmp_path, "another run", max_step=10) is None
    assert load_latest_checkpoint(tmp_path, "run", max_step=3) is None  # more steps than asked for


def test_half_written_checkpoints_are_never_resumed(tmp_path) -> None:
    save_checkpoint(tmp_path, _checkpoint(2))
    partial = tmp_path / ".step_0000004.partial"
    partial.mkdir()
    (partial / "state.json").write_text('{"format": "lamp-tune-checkpoint", "step": 4, "fingerprint": "run"}')
    assert load_latest_checkpoint(tmp_path, "run", max_step=10).step == 2
    assert latest_checkpoint_step(tmp_path) == 2


def test_disk_full_keeps_the_previous_checkpoint(tmp_path, monkeypatch) -> None:
    save_checkpoint(tmp_path, _checkpoint(2))

    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(checkpoint_module.torch, "save", no_space)
    with pytest.raises(
        LampError,
        match=r"step_0000004: cannot write the checkpoint \(No space left on device\); kept step_0000002",
    ):
        save_checkpoint(tmp_path, _checkpoint(4))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["step_0000002"]
    assert load_latest_checkpoint(tmp_path, "run", max_step=10).step == 2


def test_an_unwritable_folder_is_a_clear_error(tmp_path) -> None:
    blocker = tmp_path / "checkpoints"
    blocker.write_text("a file where the folder should be")
    with pytest.raises(LampError, match="checkpoints/step_0000002: cannot write the checkpoint"):
        save_checkpoint(blocker, _checkpoint(2))
    assert blocker.read_text() == "a file where the folder should be"
