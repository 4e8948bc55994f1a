"""Flow `sweep`: DVC experiments over parameter sets for one motion, under the GPU limit, then a table."""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from prefect import flow, get_run_logger
from prefect.futures import wait

from flows.artifacts import markdown_table, publish_sweep
from flows.dvc_tasks import RETRIES, RETRY_DELAY_S, run_experiment
from flows.experiments import expand_grid, experiment_results
from flows.gpu import GPU_TAG, ensure_gpu_limit, gpu_stage_groups
from flows.outcomes import FAILED, StageOutcome
from flows.pipeline import Pipeline
from flows.task_runners import local_task_runner


class SweepFailed(RuntimeError):
    """Some experiments of a sweep failed; `rows` has the table of all of them."""

    def __init__(self, motion: str, rows: list[dict[str, Any]]):
        self.motion = motion
        self.rows = rows
        failed = [f"{r['experiment']} ({r['error']})" for r in rows if r["status"] == FAILED]
        super().__init__(
            f"sweep of {motion!r}: {len(failed)} of {len(rows)} experiments failed: {'; '.join(failed)}"
        )

    def __reduce__(self):
        return type(self), (self.motion, self.rows)


@flow(name="sweep", task_runner=local_task_runner())
def sweep_flow(
    motion: str,
    grid: dict[str, list[Any]],
    root: str = ".",
    targets: list[str] | None = None,
    gpu_stages: list[str] | None = None,
    retries: int = RETRIES,
    retry_delay_s: float = RETRY_DELAY_S,
) -> list[dict[str, Any]]:
    """Run one DVC experiment per parameter set of `grid` for `motion`, and tabulate their metrics.

    Each experiment is `dvc exp run --temp` in its own copy of the workspace (the workspace is untouched;
    `dvc exp apply <name>` takes a result). All are queued at once as Prefect tasks; an experiment that
    runs a GPU stage holds a GPU slot, so they share the GPUs with every other flow.

    Args:
        motion: the motion to tune.
        grid: params.yaml keys and the values to try, e.g. {"motions.slide_right.lr": [1e-4, 3e-4]}.
        root: the DVC project (a git repository: DVC keeps experiments as git refs).
        targets: the stages each experiment reproduces (default: the motion's last stages).
        gpu_stages: stage names that need a GPU (default: $LAMP_GPU_STAGES, else base, tune, generate).
        retries: tries after the first for an experiment that failed for a passing reason.
        retry_delay_s: seconds between tries.
    """
    logger = get_run_logger()
    pipeline = Pipeline.load(root)
    stages = pipeline.motion_stages(motion)
    own = pipeline.own_stages(motion)
    downstream = {a for s in own for a in s.upstream}
    targets = list(targets) if targets else [s.address for s in own if s.address not in downstream]
    parameter_sets = expand_grid(grid)
    needs_gpu = any(s.group in gpu_stage_groups(gpu_stages) for s in stages)
    ensure_gpu_limit()
    stamp = time.strftime("%Y%m%d-%H%M%S")
    names = [f"{motion}-{stamp}-{i}" for i in range(len(parameter_sets))]
    options: dict[str, Any] = {"retries": retries, "retry_delay_seconds": retry_delay_s}
    if needs_gpu:
        options["tags"] = {GPU_TAG}
    logger.info("sweep %s: %d experiments of %s", motion, len(names), ", ".join(targets))
    futures = {
        name: run_experiment.with_options(**options).submit(str(pipeline.root), name, params, targets)
        for name, params in zip(names, parameter_sets, strict=True)
    }
    wait(list(futures.values()))
    outcomes = {name: StageOutcome.from_state(name, future.state) for name, future in futures.items()}
    metric_files = [m for s in stages for m in s.metrics]
    results = experiment_results(pipeline.root, names, list(grid), metric_files)
    rows = [
        {
            "experiment": name,
            "status": outcomes[name].status if outcomes[name].status == FAILED else "done",
            **params,
            **{k: v for k, v in results.get(name, {}).items() if k not in params},
            "error": outcomes[name].error,
        }
        for name, params in zip(names, parameter_sets, strict=True)
    ]
    publish_sweep(motion, rows)
    logger.info("sweep %s:\n%s", motion, markdown_table(rows))
    if any(r["status"] == FAILED for r in rows):
        raise SweepFailed(motion, rows)
    return rows


def main(argv: list[str] | None = None) -> None:
    """`python -m flows.sweep <motion> '<grid as JSON>'`: run the flow once, here."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("motion")
    parser.add_argument("grid", type=json.loads, help="e.g. '{\"motions.slide_right.lr\": [1e-4, 3e-4]}'")
    parser.add_argument("--root", default=".")
    args = parser.parse_args(argv)
    sweep_flow(args.motion, args.grid, root=args.root)


if __name__ == "__main__":
    main()
