"""Tuning runs on a tiny random base: determinism, resume, outputs, and every fault the stage must survive."""

from __future__ import annotations

import errno
import json
import shutil
from pathlib import Path

import pytest
import torch
from accelerate.state import AcceleratorState
from conftest import MOTION, STEPS, assert_same_weights, make_project, motion_weights, project_job

from lamp_core.errors import LampError
from lamp_core.model import LAMPUNet, load_base, load_motion, read_motion_config
from lamp_core.tiny_base.components import build_tiny_sd_components, save_tiny_sd
from lamp_core.training import publish as publish_module
from lamp_core.training import tune_motion
from lamp_core.training import tuner as tuner_module


def test_a_run_publishes_the_artifact_card_log_and_validation_video(straight, tiny_sd_dir) -> None:
    motion_dir = straight / "data" / "motions" / MOTION
    assert sorted(p.name for p in motion_dir.iterdir()) == [
        "README.md",
        "model_card.json",
        "motion.safetensors",
        "motion_config.json",
    ]
    card = json.loads((motion_dir / "model_card.json").read_text())
    assert card["steps"] == STEPS and card["base"]["source"] == str(tiny_sd_dir)
    assert card["base"]["content_hash"].startswith("sha256:") and card["data"]["frames_sha256"].startswith(
        "sha256:"
    )
    assert card["params"]["tune"]["learning_rate"] == 1e-3 and card["params"]["motion"]["n_frames"] == 4
    assert card["code"]["source_sha256"].startswith("sha256:") and card["training"]["num_processes"] == 1
    loss_rows = (
        (straight / "reports" / MOTION / "tune" / "plots" / "metrics" / "loss.tsv").read_text().splitlines()
    )
    assert loss_rows[0] == "step\tloss" and [row.split("\t")[0] for row in loss_rows[1:]] == ["2", "4", "6"]
    assert card["final_loss"] == pytest.approx(float(loss_rows[-1].split("\t")[1]))
    validation = straight / "reports" / MOTION / "tune" / "validation"
    assert {p.name for p in validation.iterdir()} == {"step_0000006.mp4", "step_0000006.gif"}

    base = load_base(tiny_sd_dir)
    config = read_motion_config(motion_dir)
    unet = LAMPUNet.from_unet2d(base.unet, config.inflation, base_identity=base.identity)
    load_motion(motion_dir, unet)
    gates = [p for n, p in unet.named_parameters() if ".temporal_conv." in n]
    assert any(p.abs().sum() > 0 for p in gates)  # tuned away from the zero initialisation


def test_same_seed_gives_the_same_weights_and_another_seed_does_not(straight, tiny_sd_dir, tmp_path) -> None:
    again = make_project(tmp_path / "again", tiny_sd_dir)
    tune_motion(project_job(again, steps=STEPS))
    assert_same_weights(straight, again)
    AcceleratorState._reset_state(reset_partial_state=True)

    other = make_project(tmp_path / "other", tiny_sd_dir)
    tune_motion(project_job(other, steps=STEPS, seed=1))
    ours, theirs = motion_weights(straight), motion_weights(other)
    assert any(not torch.equal(ours[name], theirs[name]) for name in ours)


def test_a_resumed_run_ends_where_an_uninterrupted_one_does(straight, tiny_sd_dir, tmp_path) -> None:
    project = make_project(tmp_path / "resumed", tiny_sd_dir)
    tune_motion(project_job(project, steps=3))
    AcceleratorState._reset_state(reset_partial_state=True)
    result = tune_motion(project_job(project, steps=STEPS))
    assert result.resumed_from == 3
    assert_same_weights(straight, project)
    loss_rows = (
        (project / "reports" / MOTION / "tune" / "plots" / "metrics" / "loss.tsv").read_text().splitlines()
    )
    assert [row.split("\t")[0] for row in loss_rows[1:]] == ["2", "3", "4", "6"]  # history kept, no repeats


def test_a_diverging_run_stops_keeps_its_last_good_checkpoint_and_publishes_nothing(
    straight, tiny_sd_dir, tmp_path
) -> None:
    project = make_project(tmp_path / "diverges", tiny_sd_dir)
    earlier = project / "data" / "motions" / MOTION
    shutil.copytree(straight / "data" / "motions" / MOTION, earlier)
    before = {p.name: p.read_bytes() for p in earlier.iterdir()}

    with pytest.raises(
        LampError, match=r"step 2: the loss is nan.*last good checkpoint \(step 1\)"
    ) as caught:
        tune_motion(project_job(project, learning_rate=1e10, checkpoint_every=1))
    assert caught.value.path == project / "data" / "checkpoints" / MOTION
    checkpoints = project / "data" / "checkpoints" / MOTION
    assert sorted(p.name for p in checkpoints.iterdir()) == ["latents.safetensors", "step_0000001"]
    assert {p.name: p.read_bytes() for p in earlier.iterdir()} == before
    assert not any(p.name.startswith(".") for p in earlier.parent.iterdir())


def _sd2_like(tiny_sd_dir: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "sd2"
    shutil.copytree(tiny_sd_dir, folder)
    config = folder / "scheduler" / "scheduler_config.json"
    config.write_text(json.dumps({**json.loads(config.read_text()), "prediction_type": "v_prediction"}))
    return folder


def _too_coarse(tiny_sd_dir: Path, tmp_path: Path) -> Path:
    """An SD 1.x base that downsamples 32 times (VAE x4, UNet x8): 16x16 videos do not fit it."""
    components = build_tiny_sd_components(
        sample_size=64,
        vae_channels=(16, 16, 16),
        unet_channels=(32, 32, 32, 32),
        text_width=32,
        text_layers=1,
        tokenizer_dir=tmp_path / "tokenizer",
    )
    return save_tiny_sd(components, tmp_path / "coarse")


@pytest.mark.parametrize(
    ("make_base", "message"),
    [
        (lambda sd, tmp: tmp / "no-such-model", "no such folder or file"),
        (_sd2_like, "prediction_type='v_prediction'"),
        (_too_coarse, "needs width and height in multiples of 32"),
    ],
    ids=["missing", "not-sd1", "wrong-shape"],
)
def test_an_unusable_base_is_refused_before_training(tiny_sd_dir, tmp_path, make_base, message) -> None:
    base = make_base(tiny_sd_dir, tmp_path)
    project = make_project(tmp_path / "project", base)
    with pytest.raises(LampError, match=message):
        tune_motion(project_job(project))
    assert not list((project / "data" / "checkpoints" / MOTION).iterdir())
    assert not (project / "data" / "motions" / MOTION).exists()


def test_an_unwritable_output_folder_is_refused_before_training(tiny_sd_dir, tmp_path) -> None:
    project = make_project(tmp_path / "project", tiny_sd_dir)
    (project / "data" / "motions").write_text("a file where the output folder should be")
    with pytest.raises(LampError, match=r"data/motions: cannot write here"):
        tune_motion(project_job(project))
    assert not (project / "data" / "checkpoints" / MOTION / "latents.safetensors").exists()


def test_too_little_free_space_is_refused_before_training(tiny_sd_dir, tmp_path, monkeypatch) -> None:
    project = make_project(tmp_path / "project", tiny_sd_dir)
    monkeypatch.setattr(
        tuner_module.shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(10**9, 10**9, 1000)
    )
    with pytest.raises(LampError, match=r"not enough free space: the run writes about \d+ MB, 0 MB free"):
        tune_motion(project_job(project))
    assert not [
        p for p in (project / "data" / "checkpoints" / MOTION).iterdir() if p.name.startswith("step_")
    ]


def test_disk_full_when_publishing_loses_nothing_and_a_rerun_publishes(
    straight, tiny_sd_dir, tmp_path, monkeypatch
):
    project = make_project(tmp_path / "project", tiny_sd_dir)
    earlier = project / "data" / "motions" / MOTION
    earlier.mkdir(parents=True)
    (earlier / "motion_config.json").write_text("an earlier artifact")

    def no_space(directory, *args, **kwargs):
        (Path(directory) / "motion.safetensors").write_bytes(b"half")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(publish_module, "save_motion", no_space)
    with pytest.raises(LampError, match=r"No space left on device\); nothing was published"):
        tune_motion(project_job(project, steps=STEPS))
    assert [p.name for p in earlier.iterdir()] == ["motion_config.json"]
    assert (earlier / "motion_config.json").read_text() == "an earlier artifact"
    assert not any(p.name.startswith(".") for p in earlier.parent.iterdir())

    monkeypatch.undo()
    AcceleratorState._reset_state(reset_partial_state=True)
    result = tune_motion(project_job(project, steps=STEPS))
    assert result.resumed_from == STEPS  # published from the final checkpoint, no training again
    assert_same_weights(straight, project)


def test_bf16_and_gradient_checkpointing_run_on_the_cpu(tiny_sd_dir, tmp_path) -> None:
    project = make_project(tmp_path / "project", tiny_sd_dir)
    result = tune_motion(project_job(project, steps=2, mixed_precision="bf16", gradient_checkpointing=True))
    assert result.steps == 2 and 0 < result.final_loss < 10


def test_a_rerun_of_a_finished_run_restores_the_outputs_dvc_removed(tiny_sd_dir, tmp_path) -> None:
    # dvc repro after a code change: the checkpoint of the last step survives (it is not a DVC output),
    # the stage's outputs are deleted before the stage runs again.
    project = make_project(tmp_path / "project", tiny_sd_dir)
    quick = {"num_inference_steps": 2, "guidance_scale": 1.0}
    tune_motion(project_job(project, steps=2, validate_every=2, validation=quick))
    AcceleratorState._reset_state(reset_partial_state=True)
    tune_reports = project / "reports" / MOTION / "tune"
    shutil.rmtree(tune_reports)
    shutil.rmtree(project / "data" / "motions" / MOTION)

    result = tune_motion(project_job(project, steps=2, validate_every=2, validation=quick))
    assert result.resumed_from == 2
    videos = {p.name for p in (tune_reports / "validation").iterdir()}
    assert videos == {"step_0000002.mp4", "step_0000002.gif"}
    assert (tune_reports / "plots" / "metrics" / "loss.tsv").read_text().splitlines()[1].startswith("2\t")
    assert (project / "data" / "motions" / MOTION / "motion.safetensors").is_file()


def test_without_validation_videos_the_validation_folder_still_exists(tiny_sd_dir, tmp_path) -> None:
    project = make_project(tmp_path / "project", tiny_sd_dir)
    tune_motion(project_job(project, steps=1, validate_every=0))
    assert list((project / "reports" / MOTION / "tune" / "validation").iterdir()) == []
