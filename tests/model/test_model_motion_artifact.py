"""Motion artifacts: only the motion weights, exact round trips, motion switching on one base, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file
from tiny_models import TEST_BASE, make_lamp, make_unet, randomize_motion, video_inputs

from lamp_core.errors import LampError
from lamp_core.model import (
    BaseIdentity,
    InflationConfig,
    LAMPUNet,
    load_motion,
    read_motion_config,
    save_motion,
)
from lamp_core.model.motion_artifact import MOTION_CONFIG_NAME, MOTION_WEIGHTS_NAME


def _output(model: LAMPUNet) -> torch.Tensor:
    sample, timesteps, text = video_inputs(seed=5, frames=4)
    with torch.no_grad():
        return model(sample, timesteps, text)


def _tuned(seed: int) -> LAMPUNet:
    model = make_lamp()
    randomize_motion(model, seed=seed)
    return model


def test_save_then_load_onto_a_fresh_base_is_bit_exact(tmp_path: Path) -> None:
    tuned = _tuned(seed=1)
    save_motion(tmp_path / "motion", tuned, metadata={"steps": 400, "lr": 1e-3})

    fresh = make_lamp(seed=0)
    assert not torch.equal(_output(fresh), _output(tuned))
    config = load_motion(tmp_path / "motion", fresh)
    assert torch.equal(_output(fresh), _output(tuned))
    assert config.metadata == {"steps": 400, "lr": 1e-3}
    assert config.base == TEST_BASE and config.inflation == InflationConfig.paper()


def test_artifact_holds_only_motion_weights(tmp_path: Path) -> None:
    tuned = _tuned(seed=1)
    save_motion(tmp_path, tuned)
    tensors = load_file(tmp_path / MOTION_WEIGHTS_NAME)

    motion_kinds = (".temporal_conv.", ".gate.", ".temporal_attention.", ".attn1.to_q.")
    assert tensors and all(any(kind in name for kind in motion_kinds) for name in tensors)
    assert {n for n in tensors if ".attn1.to_q." in n} == {
        n for n, _ in tuned.named_parameters() if ".attn1.to_q." in n
    }
    motion_bytes = sum(t.numel() * t.element_size() for t in tensors.values())
    base_bytes = sum(p.numel() * p.element_size() for p in make_unet().parameters())
    size = (tmp_path / MOTION_WEIGHTS_NAME).stat().st_size
    assert motion_bytes <= size < motion_bytes + 64 * 1024  # tensors plus a small header
    attn1_q_bytes = sum(t.numel() * t.element_size() for n, t in tensors.items() if ".attn1.to_q." in n)
    assert attn1_q_bytes < 0.05 * base_bytes  # the only base-shaped weights it holds

    config = json.loads((tmp_path / MOTION_CONFIG_NAME).read_text())
    assert config["base"] == {"source": TEST_BASE.source, "content_hash": TEST_BASE.content_hash}
    assert config["trainable_patterns"] == list(tuned.trainable_patterns)


def test_switching_motion_on_one_base_is_exact(tmp_path: Path) -> None:
    save_motion(tmp_path / "a", _tuned(seed=1))
    save_motion(tmp_path / "b", _tuned(seed=2))
    only_b = make_lamp()
    load_motion(tmp_path / "b", only_b)
    untouched = make_lamp()

    model = make_lamp()
    load_motion(tmp_path / "a", model)
    load_motion(tmp_path / "b", model)  # no base reload in between
    assert torch.equal(_output(model), _output(only_b))

    model.reset_motion()  # "no motion": the base again
    assert torch.equal(_output(model), _output(untouched))
    load_motion(tmp_path / "b", model)
    assert torch.equal(_output(model), _output(only_b))


def test_switching_restores_base_projections_a_motion_did_not_tune(tmp_path: Path) -> None:
    tuned_more = make_lamp()
    tuned_more.set_trainable([*tuned_more.trainable_patterns, "*.attn2.to_q.*"])
    randomize_motion(tuned_more, seed=3)
    save_motion(tmp_path / "more", tuned_more)
    save_motion(tmp_path / "default", _tuned(seed=4))
    only_default = make_lamp()
    load_motion(tmp_path / "default", only_default)

    model = make_lamp()
    load_motion(tmp_path / "more", model)
    load_motion(tmp_path / "default", model)  # attn2.to_q must go back to the base's values
    assert torch.equal(_output(model), _output(only_default))


def test_refuses_an_artifact_of_another_base_unless_forced(tmp_path: Path) -> None:
    save_motion(tmp_path, _tuned(seed=1))
    other = LAMPUNet.from_unet2d(make_unet(), base_identity=BaseIdentity("other", "sha256:" + "1" * 64))
    before = _output(other)
    with pytest.raises(LampError, match="tuned on base"):
        load_motion(tmp_path, other)
    assert torch.equal(_output(other), before)
    load_motion(tmp_path, other, force=True)
    assert not torch.equal(_output(other), before)

    anonymous = LAMPUNet.from_unet2d(make_unet())
    with pytest.raises(LampError, match="no base identity"):
        load_motion(tmp_path, anonymous)
    with pytest.raises(LampError, match="no base identity"):
        save_motion(tmp_path / "x", anonymous)


def test_refuses_an_artifact_of_another_inflation(tmp_path: Path) -> None:
    save_motion(tmp_path, _tuned(seed=1))
    assert read_motion_config(tmp_path).inflation.group_norm == "video"
    frame_norm = make_lamp(config=InflationConfig(group_norm="frame", temporal_kernel_size=3))
    with pytest.raises(LampError, match="inflation"):
        load_motion(tmp_path, frame_norm)


def test_bad_artifacts_are_clear_errors_and_leave_the_model_unchanged(tmp_path: Path) -> None:
    save_motion(tmp_path / "good", _tuned(seed=1))
    model = make_lamp()
    before = _output(model)

    with pytest.raises(LampError, match="not found"):
        load_motion(tmp_path / "missing", model)

    bad_json = tmp_path / "bad_json"
    bad_json.mkdir()
    (bad_json / MOTION_CONFIG_NAME).write_text("{not json")
    with pytest.raises(LampError, match="not valid JSON"):
        load_motion(bad_json, model)

    wrong_format = tmp_path / "wrong_format"
    wrong_format.mkdir()
    (wrong_format / MOTION_CONFIG_NAME).write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(LampError, match="not a LAMP motion config"):
        load_motion(wrong_format, model)

    no_weights = tmp_path / "no_weights"
    no_weights.mkdir()
    (no_weights / MOTION_CONFIG_NAME).write_text((tmp_path / "good" / MOTION_CONFIG_NAME).read_text())
    with pytest.raises(LampError, match="not found"):
        load_motion(no_weights, model)

    truncated = tmp_path / "truncated"
    truncated.mkdir()
    (truncated / MOTION_CONFIG_NAME).write_text((tmp_path / "good" / MOTION_CONFIG_NAME).read_text())
    (truncated / MOTION_WEIGHTS_NAME).write_bytes(
        (tmp_path / "good" / MOTION_WEIGHTS_NAME).read_bytes()[:500]
    )
    with pytest.raises(LampError, match="safetensors"):
        load_motion(truncated, model)

    partial = tmp_path / "partial"
    partial.mkdir()
    (partial / MOTION_CONFIG_NAME).write_text((tmp_path / "good" / MOTION_CONFIG_NAME).read_text())
    tensors = load_file(tmp_path / "good" / MOTION_WEIGHTS_NAME)
    dropped = sorted(n for n in tensors if ".temporal_conv." in n)[0]
    del tensors[dropped]
    save_file(tensors, partial / MOTION_WEIGHTS_NAME)
    with pytest.raises(LampError, match="missing"):
        load_motion(partial, model)

    assert torch.equal(_output(model), before)


def test_a_failed_save_keeps_the_previous_artifact(tmp_path: Path) -> None:
    save_motion(tmp_path, _tuned(seed=1), metadata={"run": 1})
    weights = (tmp_path / MOTION_WEIGHTS_NAME).read_bytes()
    with pytest.raises(LampError, match="JSON"):
        save_motion(tmp_path, _tuned(seed=2), metadata={"run": object()})
    assert (tmp_path / MOTION_WEIGHTS_NAME).read_bytes() == weights
    assert read_motion_config(tmp_path).metadata == {"run": 1}
