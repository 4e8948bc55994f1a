"""What a flow run did, stage by stage and motion by motion: the flows' return values and summaries."""

from __future__ import annotations

from dataclasses import dataclass

from prefect.states import State

from flows.dvc_tasks import StageRun

RAN, UP_TO_DATE, FAILED, NOT_RUN = "ran", "up to date", "failed", "not run"


@dataclass(frozen=True)
class StageOutcome:
    """One stage of a flow run: `ran`, `up to date` (DVC skipped it), `failed`, or `not run` (blocked)."""

    stage: str
    status: str
    error: str | None = None
    run: StageRun | None = None

    @property
    def seconds(self) -> float | None:
        """Seconds DVC took for the stage (None if it did not run)."""
        return None if self.run is None else self.run.finished - self.run.started

    @classmethod
    def from_state(cls, stage: str, state: State) -> StageOutcome:
        """The outcome of the task run that ended in `state`."""
        if state.is_completed():
            run = state.result()
            return cls(stage, RAN if stage in run.ran else UP_TO_DATE, run=run)
        if state.is_failed() or state.is_crashed():
            error = state.result(raise_on_failure=False)
            message = str(error) if isinstance(error, BaseException) else (state.message or state.name)
            return cls(stage, FAILED, error=message.splitlines()[0] if message else state.name)
        return cls(stage, NOT_RUN, error=state.message or None)


@dataclass(frozen=True)
class MotionOutcome:
    """One motion of a flow run: the outcomes of all its stages, in pipeline order."""

    motion: str
    stages: tuple[StageOutcome, ...]

    @property
    def succeeded(self) -> bool:
        """Whether every stage the motion needs is done."""
        return all(s.status in (RAN, UP_TO_DATE) for s in self.stages)

    @property
    def failed_stage(self) -> StageOutcome | None:
        """The first stage that failed, if any (the stages after it did not run)."""
        return next((s for s in self.stages if s.status == FAILED), None)

    def status_line(self) -> str:
        """`succeeded (2 ran, 3 up to date)` or `failed at frames@beta: <error>`."""
        if self.succeeded:
            ran = sum(s.status == RAN for s in self.stages)
            return f"succeeded ({ran} ran, {len(self.stages) - ran} up to date)"
        failed = self.failed_stage
        if failed is None:
            return "not run"
        return f"failed at {failed.stage}: {failed.error}"


@dataclass(frozen=True)
class MotionsSummary:
    """The outcome of a `motions` flow run: each motion, and the cross-motion stages after them."""

    motions: tuple[MotionOutcome, ...]
    joint: tuple[StageOutcome, ...]

    @property
    def succeeded(self) -> list[str]:
        """Names of the motions whose every stage is done."""
        return [m.motion for m in self.motions if m.succeeded]

    @property
    def failed(self) -> list[str]:
        """Names of the motions that did not finish."""
        return [m.motion for m in self.motions if not m.succeeded]

    @property
    def failed_joint(self) -> list[str]:
        """The cross-motion stages that failed."""
        return [s.stage for s in self.joint if s.status == FAILED]


class MotionsFailed(RuntimeError):
    """Some motions of a `motions` flow run did not finish (any others did); `summary` has them all."""

    def __init__(self, summary: MotionsSummary):
        self.summary = summary
        details = [f"{m.motion}: {m.status_line()}" for m in summary.motions if not m.succeeded]
        details += [f"{s.stage} failed: {s.error}" for s in summary.joint if s.status == FAILED]
        super().__init__(
            f"{len(summary.failed)} of {len(summary.motions)} motions failed ({'; '.join(details)}); "
            f"succeeded: {', '.join(summary.succeeded) or 'none'}"
        )

    def __reduce__(self):
        return type(self), (self.summary,)
