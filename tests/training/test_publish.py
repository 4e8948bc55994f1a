"""Publishing a motion: all files appear at once, an earlier artifact survives a kill mid-swap."""

from __future__ import annotations

import json
import os

from tiny_models import make_lamp

from lamp_core.atomic_write import partial_path, previous_path, recover_interrupted_replace
from lamp_core.model import BaseIdentity, LAMPUNet, read_motion_config
from lamp_core.training import publish_motion

CARD = {
    "motion": "slide",
    "prompt": "a square sliding right",
    "base": {"source": "tests/tiny", "content_hash": "sha256:" + "0" * 64},
    "steps": 3,
    "final_loss": 0.5,
    "params": {
        "tune": {
            "batch_size": 1,
            "learning_rate": 1e-3,
            "lr_scheduler": "constant",
            "adam_beta1": 0.9,
            "adam_beta2": 0.999,
            "adam_weight_decay": 0.01,
            "mixed_precision": "no",
            "seed": 0,
        },
        "motion": {"n_frames": 4, "sample_rate": 1, "width": 16, "height": 16},
    },
    "data": {"clips": 4, "frames_sha256": "sha256:" + "1" * 64},
    "training": {"num_processes": 1, "optimizer": "AdamW", "trainable_parameters": 1000},
    "code": {"lamp": "0.1.0", "source_sha256": "sha256:" + "2" * 64},
}


def _unet() -> LAMPUNet:
    return make_lamp(base=BaseIdentity("tests/tiny", CARD["base"]["content_hash"]))


def test_publishing_replaces_an_earlier_artifact_whole(tmp_path) -> None:
    output = tmp_path / "motions" / "slide"
    output.mkdir(parents=True)
    (output / "stale.txt").write_text("from an earlier run")
    publish_motion(output, _unet(), metadata={"steps": 3}, card=CARD)
    names = sorted(p.name for p in output.iterdir())
    assert names == ["README.md", "model_card.json", "motion.safetensors", "motion_config.json"]
    assert json.loads((output / "model_card.json").read_text())["steps"] == 3
    assert read_motion_config(output).metadata == {"steps": 3}
    assert "# LAMP motion: slide" in (output / "README.md").read_text()
    assert sorted(p.name for p in output.parent.iterdir()) == ["slide"]


def test_a_kill_between_the_two_renames_gets_the_earlier_artifact_back(tmp_path) -> None:
    output = tmp_path / "slide"
    publish_motion(output, _unet(), metadata={"steps": 3}, card=CARD)
    before = {p.name: p.read_bytes() for p in output.iterdir()}
    # the state a kill leaves after `output -> .slide.old` and before `.slide.partial -> output`
    partial_path(output).mkdir()
    (partial_path(output) / "motion.safetensors").write_bytes(b"half-written")
    os.replace(output, previous_path(output))

    recover_interrupted_replace(output)
    assert {p.name: p.read_bytes() for p in output.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["slide"]
