"""Flow `motions`: these motions (one, or all of params.yaml) brought up to date, each of their DVC stages
a Prefect task running `dvc repro <stage>`; each motion's failure its own; a summary of who succeeded.

The stages run on threads of the flow's process (a DVC task only waits on a `dvc` subprocess), or on the
workers of a Dask cluster, which spreads them over processes or machines; every worker then needs the project
at the same path (a shared filesystem), or its own clone that pulls inputs from the DVC remote.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from prefect import flow, get_run_logger
from prefect.futures import PrefectFuture, wait
from prefect.states import State
from prefect.task_runners import ThreadPoolTaskRunner

from flows.artifacts import publish_motion, publish_motions_summary
from flows.dvc_tasks import RETRIES, RETRY_DELAY_S, StageRun, push_outputs, repro_stage
from flows.gpu import GPU_TAG, ensure_gpu_limit, gpu_stage_groups
from flows.pipeline import FlowError, Pipeline, Stage

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


class MotionsFailed(FlowError):
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


PARALLEL_STAGES_ENV = "LAMP_PARALLEL_STAGES"


def parallel_stages() -> int:
    """How many stages may run at once on one machine: $LAMP_PARALLEL_STAGES, else max(4, CPU count).

    More than the CPU count because a GPU stage waiting for its slot holds a thread while it waits.
    """
    env = os.environ.get(PARALLEL_STAGES_ENV)
    if env is not None and env.strip().isdigit() and int(env) > 0:
        return int(env)
    if env is not None:
        raise FlowError(f"${PARALLEL_STAGES_ENV}={env!r}: expected a positive whole number")
    return max(4, os.cpu_count() or 1)


def local_task_runner() -> ThreadPoolTaskRunner:
    """Threads in the flow's process, `parallel_stages()` of them."""
    return ThreadPoolTaskRunner(max_workers=parallel_stages())


def dask_task_runner(workers: int = 2, address: str | None = None):
    """A Dask task runner: a `LocalCluster` of `workers` single-threaded processes, or the running
    cluster at `address` (`tcp://scheduler:8786`)."""
    from prefect_dask import DaskTaskRunner

    if address:
        return DaskTaskRunner(address=address)
    return DaskTaskRunner(cluster_kwargs={"n_workers": workers, "threads_per_worker": 1, "processes": True})


def submit_stages(
    stages: Sequence[Stage],
    root: Path,
    gpu_groups: frozenset[str],
    retries: int,
    retry_delay_s: float,
    pull: bool = False,
) -> dict[str, PrefectFuture]:
    """Submit one `dvc repro` task per stage, each waiting for the tasks of its upstream stages.

    Stages on separate branches (two motions) run at once on the flow's task runner; a GPU stage is tagged
    so Prefect starts it only when a GPU slot is free. A failed stage blocks only what is downstream of it.
    """
    futures: dict[str, PrefectFuture] = {}
    for stage in stages:
        options: dict = {"retries": retries, "retry_delay_seconds": retry_delay_s}
        if stage.group in gpu_groups:
            options["tags"] = {GPU_TAG}
        upstream = [futures[a] for a in stage.upstream if a in futures]
        futures[stage.address] = repro_stage.with_options(**options).submit(
            str(root), stage.address, pull, wait_for=upstream
        )
    return futures


def collect_outcomes(futures: dict[str, PrefectFuture]) -> dict[str, StageOutcome]:
    """Wait for every submitted stage and say how each ended."""
    wait(list(futures.values()))
    return {address: StageOutcome.from_state(address, future.state) for address, future in futures.items()}


def push_if_wanted(pipeline: Pipeline, stages: list[str], push: bool | None, remote: str | None) -> bool:
    """`dvc push` the outputs of `stages` when `push` is True, or when it is None and a remote is known.

    Workers on other machines then `dvc pull` (or `dvc repro --pull`) what this run produced.
    """
    wanted = push if push is not None else bool(remote or pipeline.default_remote)
    if not wanted:
        return False
    if not (remote or pipeline.default_remote):
        raise FlowError(
            f"{pipeline.root}: push asked for, but the project has no DVC remote "
            "(add one: `dvc remote add -d NAME URL`)"
        )
    get_run_logger().info("pushing the outputs of %d stages", len(stages))
    push_outputs(str(pipeline.root), stages, remote)
    return True


@flow(name="motions", task_runner=local_task_runner())
def motions_flow(
    motions: list[str] | None = None,
    root: str = ".",
    stages: list[str] | None = None,
    include_joint: bool = True,
    gpu_stages: list[str] | None = None,
    pull: bool = False,
    push: bool | None = None,
    remote: str | None = None,
    retries: int = RETRIES,
    retry_delay_s: float = RETRY_DELAY_S,
) -> MotionsSummary:
    """Bring motions up to date at once, then the cross-motion stages (the report) when they can run.

    Every stage runs once: a stage shared by several motions (`base`) runs before any of them needs it, so no
    two DVC runs ever race on it, and the motions' own stages run side by side. CPU stages run in parallel;
    GPU stages wait for a slot of the GPU limit. A motion that fails blocks only its own later stages.

    Args:
        motions: names of the motions (default: every motion of params.yaml).
        root: the DVC project.
        stages: run only these of each motion's stages (names such as "frames") and what they need; no
            cross-motion stage then.
        include_joint: also run the cross-motion stages whose motions are all among `motions` (the report).
        gpu_stages: stage names that need a GPU (default: $LAMP_GPU_STAGES, else base, tune, generate).
        pull: fetch the outputs of finished stages from the DVC remote instead of recomputing them (a
            fresh worker that shares the remote).
        push: `dvc push` the outputs of the motions that succeeded (default: when a DVC remote is set).
        remote: the DVC remote to push to (default: the project's default remote).
        retries: tries after the first for a stage that failed for a passing reason (a lock, a kill).
        retry_delay_s: seconds between tries.
    """
    logger = get_run_logger()
    pipeline = Pipeline.load(root)
    names = list(motions) if motions else list(pipeline.motions)
    include_joint = include_joint and stages is None
    per_motion = {name: pipeline.motion_stages(name, stages) for name in names}
    joint = pipeline.joint_stages(names) if include_joint else []
    plan = pipeline.plan(names, include_joint=include_joint, groups=stages)
    slots = ensure_gpu_limit()
    groups = gpu_stage_groups(gpu_stages)
    logger.info(
        "motions %s: %d stages, %d cross-motion (%s); GPU stages %s share %d slot(s)",
        ", ".join(names),
        len(plan),
        len(joint),
        ", ".join(s.address for s in joint) or "none",
        sorted(groups),
        slots,
    )
    outcomes = collect_outcomes(submit_stages(plan, pipeline.root, groups, retries, retry_delay_s, pull))
    summary = MotionsSummary(
        motions=tuple(
            MotionOutcome(name, tuple(outcomes[s.address] for s in stages))
            for name, stages in per_motion.items()
        ),
        joint=tuple(outcomes[s.address] for s in joint),
    )
    for outcome in summary.motions:
        publish_motion(pipeline.root, outcome.motion, per_motion[outcome.motion], outcome)
        logger.info("motion %s %s", outcome.motion, outcome.status_line())
    publish_motions_summary(pipeline.root, summary, joint)
    done = [s.address for s in plan if outcomes[s.address].run is not None]
    if done:  # what finished is worth sharing even when another motion failed
        push_if_wanted(pipeline, done, push, remote)
    if summary.failed or summary.failed_joint:
        raise MotionsFailed(summary)
    return summary


def main(argv: list[str] | None = None) -> None:
    """`python -m flows.motions [MOTION ...] [--stages S ...] [--dask-workers N | --dask-address URL]`: run
    the flow here."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("motions", nargs="*")
    parser.add_argument("--root", default=".")
    parser.add_argument("--stages", nargs="+", default=None, help="only these stages (and what they need)")
    parser.add_argument("--dask-workers", type=int, default=0, help="run the stages on a local Dask cluster")
    parser.add_argument("--dask-address", default=None, help="run the stages on this Dask scheduler")
    parser.add_argument("--pull", action="store_true", help="fetch finished outputs from the DVC remote")
    parser.add_argument("--push", action=argparse.BooleanOptionalAction, default=None)
    args = parser.parse_args(argv)
    flow_to_run = motions_flow
    if args.dask_workers or args.dask_address:
        flow_to_run = motions_flow.with_options(
            task_runner=dask_task_runner(args.dask_workers, args.dask_address)
        )
    flow_to_run(args.motions or None, root=args.root, stages=args.stages, pull=args.pull, push=args.push)


if __name__ == "__main__":
    main()
