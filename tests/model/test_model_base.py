"""Loading SD 1.x bases: diffusers folder, hub id via the cache, single files; clear errors otherwise."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest
import torch
from ldm_checkpoint import ldm_state_dict
from safetensors.torch import save_file

from lamp_core.errors import LampError
from lamp_core.model import LAMPUNet, SDBase, load_base, unet_content_hash
from lamp_core.sampling.lamp_sampler import ddim_scheduler


class NotATensor:
    """Stands for the arbitrary objects an untrusted pickle could carry."""

    def __init__(self) -> None:
        self.payload = "would run code on a full unpickle"


@pytest.fixture(scope="module")
def folder_base(tiny_sd_dir: Path) -> SDBase:
    return load_base(tiny_sd_dir)


@pytest.fixture(scope="module")
def ldm_checkpoint(folder_base: SDBase) -> dict[str, torch.Tensor]:
    return ldm_state_dict(folder_base.unet, folder_base.vae, folder_base.text_encoder)


def _copy(tiny_sd_dir: Path, tmp_path: Path, edit_unet_config: dict | None = None) -> Path:
    folder = tmp_path / "copy"
    shutil.copytree(tiny_sd_dir, folder)
    if edit_unet_config:
        config_path = folder / "unet" / "config.json"
        config = json.loads(config_path.read_text())
        config_path.write_text(json.dumps({**config, **edit_unet_config}))
    return folder


def test_scheduler_is_forced_as_the_reference_pipeline_does(
    tiny_sd_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A scheduler config without `clip_sample` (diffusers' default: clipping on) and with another
    `steps_offset` is loaded as the reference pipeline uses it, and the log says so once."""
    folder = _copy(tiny_sd_dir, tmp_path)
    config_path = folder / "scheduler" / "scheduler_config.json"
    config = json.loads(config_path.read_text())
    config.pop("clip_sample")
    config_path.write_text(json.dumps({**config, "steps_offset": 0}))
    with caplog.at_level(logging.WARNING, logger="lamp_core.model.base"):
        base = load_base(folder)
        again = load_base(folder)
    assert base.scheduler_config["clip_sample"] is False and base.scheduler_config["steps_offset"] == 1
    assert again.scheduler_config == base.scheduler_config
    forced = [r.getMessage() for r in caplog.records if "reference pipeline" in r.getMessage()]
    assert len(forced) == 1 and "clip_sample=unset" in forced[0] and "steps_offset=0" in forced[0]
    scheduler = ddim_scheduler(base, 10, torch.device("cpu"))
    assert scheduler.config.clip_sample is False and scheduler.config.steps_offset == 1
    assert int(scheduler.timesteps[-1]) == 1  # the offset: DDIM's last step is t=1, not t=0


def test_folder_base_is_frozen_hashed_and_inflates(folder_base: SDBase, tiny_sd_dir: Path) -> None:
    assert folder_base.source == str(tiny_sd_dir)
    assert folder_base.content_hash.startswith("sha256:") and len(folder_base.content_hash) == 71
    assert folder_base.identity.content_hash == folder_base.content_hash
    assert folder_base.scheduler_config["prediction_type"] == "epsilon"
    for module in (folder_base.unet, folder_base.vae, folder_base.text_encoder):
        assert not any(p.requires_grad for p in module.parameters())
    again = load_base(tiny_sd_dir)
    assert again.content_hash == folder_base.content_hash

    tokens = again.tokenizer(["an object sliding right"], padding="max_length", return_tensors="pt")
    with torch.no_grad():
        text = again.text_encoder(tokens.input_ids).last_hidden_state
        model = LAMPUNet.from_unet2d(again.unet, base_identity=again.identity)
        side = again.unet.config.sample_size
        out = model(torch.randn(1, 4, 3, side, side), 10, text)
    assert out.shape == (1, 4, 3, side, side)


def test_hash_does_not_depend_on_the_requested_dtype(folder_base: SDBase, tiny_sd_dir: Path) -> None:
    half = load_base(tiny_sd_dir, torch_dtype=torch.bfloat16)
    assert half.unet.dtype == torch.bfloat16 and half.vae.dtype == torch.bfloat16
    assert half.content_hash == folder_base.content_hash


def test_hash_changes_with_the_weights(folder_base: SDBase, tiny_sd_dir: Path) -> None:
    other = load_base(tiny_sd_dir)
    with torch.no_grad():
        other.unet.conv_in.bias[0] += 1e-3
    assert unet_content_hash(other.unet) != folder_base.content_hash


@pytest.mark.filterwarnings("ignore:The `local_dir_use_symlinks` argument is deprecated:UserWarning")
def test_hub_id_resolves_through_the_hugging_face_cache(
    folder_base: SDBase, tiny_sd_dir: Path, tmp_path: Path
) -> None:
    # The hub cache layout: models--<org>--<name>/refs/main names a snapshot folder holding the files.
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hub" / "models--lamp-test--tiny-sd"
    shutil.copytree(tiny_sd_dir, repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)

    base = load_base("lamp-test/tiny-sd", cache_dir=tmp_path / "hub", local_files_only=True)
    assert base.source == "lamp-test/tiny-sd"
    assert base.content_hash == folder_base.content_hash

    with pytest.raises(LampError, match="lamp-test/not-cached"):
        load_base("lamp-test/not-cached", cache_dir=tmp_path / "hub", local_files_only=True)


@pytest.mark.parametrize("suffix", [".safetensors", ".ckpt"])
def test_single_file_checkpoint_loads_the_same_base(
    suffix: str, folder_base: SDBase, ldm_checkpoint: dict, tiny_sd_dir: Path, tmp_path: Path
) -> None:
    path = tmp_path / f"tiny-sd{suffix}"
    if suffix == ".safetensors":
        save_file(ldm_checkpoint, path)
    else:  # the usual .ckpt layout: weights under "state_dict", plus plain training counters
        torch.save({"state_dict": ldm_checkpoint, "global_step": 1000, "epoch": 3}, path)

    base = load_base(path, single_file_config=tiny_sd_dir)
    assert base.content_hash == folder_base.content_hash  # same weights, same hash, whatever the format
    for name in ("unet", "vae", "text_encoder"):
        expected, got = getattr(folder_base, name).state_dict(), getattr(base, name).state_dict()
        assert got.keys() == expected.keys()
        assert all(torch.equal(got[k], expected[k]) for k in expected), name


def test_untrusted_pickle_checkpoint_is_refused(
    ldm_checkpoint: dict, tiny_sd_dir: Path, tmp_path: Path
) -> None:
    path = tmp_path / "untrusted.ckpt"
    torch.save({"state_dict": ldm_checkpoint, "callback": NotATensor()}, path)
    with pytest.raises(LampError, match=r"refused.*safetensors"):
        load_base(path, single_file_config=tiny_sd_dir)


def test_single_file_errors(ldm_checkpoint: dict, tmp_path: Path) -> None:
    good = tmp_path / "good.safetensors"
    save_file(ldm_checkpoint, good)
    with pytest.raises(LampError, match=r"good\.safetensors: single_file_config 'nobody/nothing'"):
        load_base(good, single_file_config="nobody/nothing", cache_dir=tmp_path, local_files_only=True)

    sd2 = {
        k.replace("cond_stage_model.transformer.", "cond_stage_model.model."): v
        for k, v in ldm_checkpoint.items()
    }
    save_file(sd2, tmp_path / "sd2.safetensors")
    with pytest.raises(LampError, match=r"SD 2\.x"):
        load_base(tmp_path / "sd2.safetensors")

    save_file({"weight": torch.zeros(2)}, tmp_path / "other.safetensors")
    with pytest.raises(LampError, match="not an original-format SD checkpoint"):
        load_base(tmp_path / "other.safetensors")

    (tmp_path / "corrupt.safetensors").write_bytes(b"\x00" * 64)
    with pytest.raises(LampError, match=r"corrupt\.safetensors: not a readable safetensors"):
        load_base(tmp_path / "corrupt.safetensors")


def test_missing_or_unknown_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(LampError, match="no such folder or file"):
        load_base(tmp_path / "nothing-here")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "models").mkdir()
    with pytest.raises(LampError, match="not taken as a hub id"):
        load_base("models/base")  # looks like org/name, but models/ is a local folder
    with pytest.raises(LampError, match="no such folder or file"):
        load_base(str(tmp_path / "missing.safetensors"))
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(LampError, match="not a model file"):
        load_base(tmp_path / "notes.txt")

    sdxl_like = tmp_path / "sdxl"
    sdxl_like.mkdir()
    (sdxl_like / "model_index.json").write_text(json.dumps({"_class_name": "FluxPipeline"}))
    with pytest.raises(LampError, match=r"no unet/ subfolder \(model_index.json: FluxPipeline\)"):
        load_base(sdxl_like)


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        ({"use_linear_projection": True}, "SD 2.x"),
        ({"addition_embed_type": "text_time"}, "SDXL"),
        ({"cross_attention_dim": 48}, "cross_attention_dim 48 != text width 32"),
        ({"in_channels": 9}, "in_channels 9"),
    ],
)
def test_bases_that_are_not_sd1_or_do_not_fit_are_refused(
    edit: dict, reason: str, tiny_sd_dir: Path, tmp_path: Path
) -> None:
    folder = _copy(tiny_sd_dir, tmp_path, edit)
    with pytest.raises(LampError, match=reason) as error:
        load_base(folder)
    assert str(folder) in str(error.value)


def test_missing_component_is_named(tiny_sd_dir: Path, tmp_path: Path) -> None:
    folder = _copy(tiny_sd_dir, tmp_path)
    shutil.rmtree(folder / "vae")
    with pytest.raises(LampError, match="cannot load the VAE config"):
        load_base(folder)
