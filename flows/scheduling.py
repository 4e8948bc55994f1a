"""Submitting a set of DVC stages as Prefect tasks that follow the pipeline's edges, and collecting them."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from prefect.futures import PrefectFuture, wait

from flows.dvc_tasks import repro_stage
from flows.gpu import GPU_TAG
from flows.outcomes import StageOutcome
from flows.pipeline import Stage


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
