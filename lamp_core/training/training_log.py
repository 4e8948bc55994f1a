"""The tuning log: loss and learning rate per logged step, through dvclive, for `dvc plots show`.

dvclive writes `<dir>/plots/metrics/loss.tsv` and `lr.tsv` (columns `step` and the value) and the latest
values to `<dir>/metrics.json`. DVC removes a stage's outputs before it runs again, so a resumed run
starts the log afresh and first writes back the history kept in the checkpoint: the curve always covers
every step from 1, without duplicates from steps done twice.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

from dvclive import Live

from lamp_core.errors import LampError

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
