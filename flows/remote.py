"""Sharing artifacts through a DVC remote: the `dvc push` at the end of a flow."""

from __future__ import annotations

from prefect import get_run_logger

from flows.dvc_tasks import push_outputs
from flows.pipeline import Pipeline, PipelineError


def push_if_wanted(pipeline: Pipeline, stages: list[str], push: bool | None, remote: str | None) -> bool:
    """`dvc push` the outputs of `stages` when `push` is True, or when it is None and a remote is known.

    Workers on other machines then `dvc pull` (or `dvc repro --pull`) what this run produced.
    """
    wanted = push if push is not None else bool(remote or pipeline.default_remote)
    if not wanted:
        return False
    if not (remote or pipeline.default_remote):
        raise PipelineError(
            f"{pipeline.root}: push asked for, but the project has no DVC remote "
            "(add one: `dvc remote add -d NAME URL`)"
        )
    get_run_logger().info("pushing the outputs of %d stages", len(stages))
    push_outputs(str(pipeline.root), stages, remote)
    return True
