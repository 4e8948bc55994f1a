"""Fixtures of the tuning tests: a tiny random SD 1.x base, and small projects with a frame cache."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import yaml
from accelerate.state import AcceleratorState
from pipeline_settings import PARAMS
from safetensors.torch import load_file

from lamp_core.data.frame_cache import write_uint8_safetensors
from lamp_core.params import motion_config
from lamp_core.tiny_base.components import build_tiny_sd_components, save_tiny_sd
from lamp_core.training import ModelSettings, TuneJob, TunePaths, TuneSettings, tune_motion

MOTION = "slide"
SIZE = 16  # pixels; the tiny test VAE halves it to 8x8 latents
CLIP_FRAMES = 8
N_CLIPS = 4
STEPS = 6  # steps of the tuning runs that tests compare with each other


@pytest.fixture(autouse=True)
def single_thread():
    """Run on one thread: these models are tiny, and on a shared 2-core machine thread hand-offs dominate."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def fresh_accelerate_state():
    """accelerate keeps one process-wide state; each test's Accelerator must start from a clean one."""
    yield
    AcceleratorState._reset_state(reset_partial_state=True)


@pytest.fixture(scope="session")
def tiny_sd_dir(tmp_path_factory) -> Path:
    """A tiny SD 1.x diffusers folder with random weights (VAE x2, UNet x2)."""
    root = tmp_path_factory.mktemp("tiny_sd")
    components = build_tiny_sd_components(
        seed=0,
        sample_size=SIZE,
        vae_channels=(16, 32),
        unet_channels=(32, 64),
        text_width=32,
        text_layers=1,
        tokenizer_dir=root / "tokenizer_build",
    )
    return save_tiny_sd(components, root / "sd")


def sliding_clips(
    n_clips: int = N_CLIPS, n_frames: int = CLIP_FRAMES, size: int = SIZE, seed: int = 0
) -> list[np.ndarray]:
    """uint8 (T, size, size, 3) clips: a bright square moving right 1 px per frame on a dark background."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[:size, :size]
    clips = []
    for _ in range(n_clips):
        colour = rng.integers(128, 256, 3)
        top, left = rng.integers(0, size - 5, 2)
        t = np.arange(n_frames)[:, None, None]
        inside = (ys >= top) & (ys < top + 5) & (xs >= (left + t) % size) & (xs < (left + t) % size + 5)
        clips.append(np.where(inside[..., None], colour, 20).astype(np.uint8))
    return clips


def write_frame_cache(folder: Path, clips: list, caption: str = "a square sliding right") -> Path:
    """A frame cache in the frames stage's format (clips.safetensors, captions.csv, index.csv)."""
    folder.mkdir(parents=True, exist_ok=True)
    keys = [f"clip_{i:04d}" for i in range(len(clips))]
    height, width = clips[0].shape[1:3]
    meta = {"motion": MOTION, "fps": "8", "width": str(width), "height": str(height)}
    write_uint8_safetensors(folder / "clips.safetensors", dict(zip(keys, clips, strict=True)), meta)
    with (folder / "captions.csv").open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([("clip", "caption"), *((k, caption) for k in keys)])
    with (folder / "index.csv").open("w", newline="", encoding="utf-8") as f:
        rows = [(k, f"raw/{k}.mp4", len(c)) for k, c in zip(keys, clips, strict=True)]
        csv.writer(f).writerows([("clip", "source", "n_frames"), *rows])
    return folder


def project_params(base: Path | str, **tune: Any) -> dict[str, Any]:
    """params.yaml content of a one-motion project on `base` (tune: small, fast values plus `tune`)."""
    return {
        "defaults": {
            "width": SIZE,
            "height": SIZE,
            "fps": 8,
            "n_frames": 4,
            "sample_rate": 1,
            "min_clips": 2,
            "max_clip_seconds": 4,
        },
        "motions": {MOTION: {"prompt": "a square sliding right"}},
        "base": {"model": str(base)},
        "model": PARAMS["model"] | {"group_norm": "video"},
        "tune": {
            **PARAMS["tune"],
            "lr_scheduler": "constant",
            "steps": 6,
            "learning_rate": 1e-3,
            "batch_size": 2,
            "seed": 0,
            "checkpoint_every": 2,
            "validate_every": 0,
            "log_every": 2,
            **tune,
        },
    }


def make_project(root: Path, base: Path | str, **tune: Any) -> Path:
    """A project folder: params.yaml and data/frames/<MOTION>/; returns `root`."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "params.yaml").write_text(yaml.safe_dump(project_params(base, **tune)), encoding="utf-8")
    write_frame_cache(root / "data" / "frames" / MOTION, sliding_clips())
    return root


def project_job(root: Path, **overrides: Any) -> TuneJob:
    """The TuneJob the stage would build for the project at `root` (settings overridable)."""
    params = yaml.safe_load((root / "params.yaml").read_text(encoding="utf-8"))
    params["tune"].update(overrides)
    return TuneJob(
        motion=motion_config(params, MOTION),
        tune=TuneSettings.from_dict(params["tune"]),
        model=ModelSettings.from_dict(params["model"]),
        base=params["base"]["model"],
        paths=TunePaths.for_motion(MOTION, root / "data", root / "reports"),
    )


@pytest.fixture(scope="session")
def straight(tiny_sd_dir, tmp_path_factory) -> Path:
    """A project tuned for STEPS steps in one go, with a (quick) validation video at the end."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    root = make_project(tmp_path_factory.mktemp("straight"), tiny_sd_dir)
    quick = {"num_inference_steps": 2, "guidance_scale": 1.0}
    result = tune_motion(project_job(root, steps=STEPS, validate_every=STEPS, validation=quick))
    AcceleratorState._reset_state(reset_partial_state=True)
    torch.set_num_threads(threads)
    assert result.steps == STEPS and result.resumed_from == 0 and result.steps_per_second > 0
    return root


def motion_weights(project: Path) -> dict[str, torch.Tensor]:
    """The published motion weights of a project."""
    return load_file(project / "data" / "motions" / MOTION / "motion.safetensors")


def assert_same_weights(a: Path, b: Path) -> None:
    """Bit-identical published motion weights."""
    ours, theirs = motion_weights(a), motion_weights(b)
    assert ours.keys() == theirs.keys()
    assert all(torch.equal(ours[name], theirs[name]) for name in ours)
