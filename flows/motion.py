"""Flow `motion`: one motion end to end, each of its DVC stages a Prefect task running `dvc repro <stage>`."""

from __future__ import annotations

import argparse

from prefect import flow, get_run_logger

from flows.artifacts import publish_motion
from flows.gpu import ensure_gpu_limit, gpu_stage_groups
from flows.outcomes import MotionFailed, MotionOutcome
from flows.pipeline import Pipeline
from flows.remote import push_if_wanted
from flows.scheduling import collect_outcomes, submit_stages
from flows.task_runners import local_task_runner


@flow(name="motion", task_runner=local_task_runner())
def motion_flow(
    motion: str,
    root: str = ".",
    stages: list[str] | None = None,
    gpu_stages: list[str] | None = None,
    pull: bool = False,
    push: bool | None = None,
    remote: str | None = None,
    retries: int = 2,
    retry_delay_s: float = 30.0,
) -> MotionOutcome:
    """Bring `motion` up to date: every stage generated for it in dvc.yaml and every stage upstream.

    Args:
        motion: the motion's name (its foreach key in dvc.yaml, its entry under `motions:` in params.yaml).
        root: the DVC project.
        stages: run only these of the motion's stages (names such as "frames") and what they need.
        gpu_stages: stage names that need a GPU (default: $LAMP_GPU_STAGES, else base, tune, generate).
        pull: fetch the outputs of finished stages from the DVC remote instead of recomputing them (a
            fresh worker that shares the remote).
        push: `dvc push` the motion's outputs at the end (default: when the project has a default remote).
        remote: the DVC remote to push to (default: the project's default remote).
        retries: tries after the first for a stage that failed for a passing reason (a lock, a kill).
        retry_delay_s: seconds between tries.
    """
    logger = get_run_logger()
    pipeline = Pipeline.load(root)
    to_run = pipeline.motion_stages(motion, stages)
    slots = ensure_gpu_limit()
    groups = gpu_stage_groups(gpu_stages)
    logger.info(
        "motion %s: %d stages (%s); GPU stages %s share %d slot(s)",
        motion,
        len(to_run),
        ", ".join(s.address for s in to_run),
        sorted(groups),
        slots,
    )
    futures = submit_stages(to_run, pipeline.root, groups, retries, retry_delay_s, pull)
    outcomes = collect_outcomes(futures)
    outcome = MotionOutcome(motion, tuple(outcomes[s.address] for s in to_run))
    publish_motion(pipeline.root, motion, to_run, outcome)
    logger.info("motion %s %s", motion, outcome.status_line())
    if not outcome.succeeded:
        raise MotionFailed(outcome)
    push_if_wanted(pipeline, [s.address for s in to_run], push, remote)
    return outcome


def main(argv: list[str] | None = None) -> None:
    """`python -m flows.motion <motion> [--root DIR]`: run the flow once, here."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("motion")
    parser.add_argument("--root", default=".")
    parser.add_argument("--stages", nargs="+", default=None, help="only these stages (and what they need)")
    parser.add_argument("--pull", action="store_true", help="fetch finished outputs from the DVC remote")
    parser.add_argument("--push", action=argparse.BooleanOptionalAction, default=None)
    args = parser.parse_args(argv)
    motion_flow(args.motion, root=args.root, stages=args.stages, pull=args.pull, push=args.push)


if __name__ == "__main__":
    main()
