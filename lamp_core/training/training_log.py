"""What a tuning run reports as it goes: loss and learning rate per logged step (dvclive, for `dvc plots
show`), and validation videos sampled from the model being tuned.

dvclive writes `<dir>/plots/metrics/loss.tsv` and `lr.tsv` (columns `step` and the value) and the latest
values to `<dir>/metrics.json`. DVC removes a stage's outputs before it runs again, so a resumed run
starts the log afresh and first writes back the history kept in the checkpoint: the curve always covers
every step from 1, without duplicates from steps done twice.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from dvclive import Live

from lamp_core.errors import LampError
from lamp_core.model import LAMPUNet, SDBase
from lamp_core.params import PARAMS_FILE
from lamp_core.sampling import SamplingConfig, sample_video
from lamp_core.video import write_video

LOSS, LEARNING_RATE = "loss", "lr"


class TrainingLog:
    """A dvclive log of one tuning run (never a DVC experiment, never an edit of dvc.yaml)."""

    def __init__(self, directory: str | Path, history: Iterable[dict[str, float]] = ()) -> None:
        self.directory = Path(directory)
        logging.getLogger("dvclive").setLevel(logging.WARNING)
        try:
            self._live = Live(
                str(self.directory), resume=False, save_dvc_exp=False, dvcyaml=None, report=None
            )
            for row in history:
                self._append(int(row["step"]), float(row[LOSS]), float(row[LEARNING_RATE]))
            self._live.make_summary()
        except OSError as exc:
            raise LampError(self.directory, f"cannot write the tuning log ({exc.strerror or exc})") from None

    def log(self, step: int, loss: float, learning_rate: float) -> None:
        """Record the (mean) loss and the learning rate at `step`."""
        try:
            self._append(step, loss, learning_rate)
            self._live.make_summary()
        except OSError as exc:
            raise LampError(self.directory, f"cannot write the tuning log ({exc.strerror or exc})") from None

    def summarise(self, values: dict[str, float]) -> None:
        """Add run-level figures (e.g. steps per second) to `metrics.json`."""
        for name, value in values.items():
            self._live.log_metric(name, value, plot=False)
        try:
            self._live.make_summary()
        except OSError as exc:
            raise LampError(self.directory, f"cannot write the tuning log ({exc.strerror or exc})") from None

    def _append(self, step: int, loss: float, learning_rate: float) -> None:
        self._live.step = step
        self._live.log_metric(LOSS, loss)
        self._live.log_metric(LEARNING_RATE, learning_rate)


# Validation videos during tuning: a short sample from the model as it is, to watch training progress.
#
# One video per validation, sampled with LAMP's sampler from a fixed first frame, prompt and seed, so the
# videos of successive validations differ only by what the model learned. Written as
# `<folder>/step_0000200.mp4` and `.gif`.


@dataclass(frozen=True)
class ValidationSpec:
    """What every validation samples: first-frame latent (C, h, w), prompt, frames, fps, seed, settings."""

    first_frame: torch.Tensor
    prompt: str
    n_frames: int
    fps: float
    seed: int
    config: SamplingConfig

    @classmethod
    def from_settings(
        cls,
        first_frame: torch.Tensor,
        prompt: str,
        n_frames: int,
        fps: float,
        seed: int,
        settings: dict[str, Any],
    ) -> ValidationSpec:
        try:
            # `tune.validation` changes the paper's sampling (params.yaml: fewer steps, so that validation
            # does not dominate the wall time of tuning).
            paper = dataclasses.asdict(SamplingConfig.paper())
            config = SamplingConfig.from_mapping(paper | settings, "tune.validation")
        except LampError as exc:
            raise LampError(PARAMS_FILE, str(exc)) from None
        return cls(first_frame, prompt, n_frames, fps, seed, config)


def validation_video_path(folder: str | Path, step: int) -> Path:
    """Where the validation video (mp4; a gif beside it) of `step` is written."""
    return Path(folder) / f"step_{step:07d}.mp4"


def write_validation_video(
    unet: LAMPUNet, base: SDBase, spec: ValidationSpec, folder: str | Path, step: int, device: torch.device
) -> Path:
    """Sample the validation video of `step` with `unet` (in eval mode) and write it; returns the mp4."""
    was_training = unet.training
    unet.eval()
    try:
        video = sample_video(
            unet,
            base,
            spec.prompt,
            spec.first_frame,
            seed=spec.seed,
            n_frames=spec.n_frames,
            config=spec.config,
            device=device,
        )
    finally:
        unet.train(was_training)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    mp4 = write_video(video, validation_video_path(folder, step), spec.fps)
    write_video(video, mp4.with_suffix(".gif"), spec.fps)
    return mp4
