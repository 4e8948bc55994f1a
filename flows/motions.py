"""Flow `motions`: these motions (one, or all of params.yaml) brought up to date, each of their DVC stages
a Prefect task running `dvc repro <stage>`; each motion's failure its own; a summary of who succeeded."""

from __future__ import annotations

import argparse

from prefect import flow, get_run_logger

from flows.artifacts import publish_motion, publish_motions_summary
from flows.dvc_tasks import RETRIES, RETRY_DELAY_S
from flows.gpu import ensure_gpu_limit, gpu_stage_groups
from flows.outcomes import MotionOutcome, MotionsFailed, MotionsSummary
from flows.pipeline import Pipeline
from flows.remote import push_if_wanted
from flows.scheduling import collect_outcomes, submit_stages
from flows.task_runners import dask_task_runner, local_task_runner


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
