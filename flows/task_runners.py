"""Where a flow's tasks run: threads of the flow's own process, or the workers of a Dask cluster.

A DVC task only waits on a `dvc` subprocess, so threads are enough on one machine. A Dask cluster spreads
the stages (a batch of motions' `generate` stages, say) over more processes or machines; every worker needs
the project at the same path (a shared filesystem), or its own clone that pulls inputs from the DVC remote.
"""

from __future__ import annotations

import os

from prefect.task_runners import ThreadPoolTaskRunner

PARALLEL_STAGES_ENV = "LAMP_PARALLEL_STAGES"


def parallel_stages() -> int:
    """How many stages may run at once on one machine: $LAMP_PARALLEL_STAGES, else max(4, CPU count).

    More than the CPU count because a GPU stage waiting for its slot holds a thread while it waits.
    """
    env = os.environ.get(PARALLEL_STAGES_ENV)
    if env is not None and env.strip().isdigit() and int(env) > 0:
        return int(env)
    if env is not None:
        raise ValueError(f"${PARALLEL_STAGES_ENV}={env!r}: expected a positive whole number")
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
