"""Flow `sweep`: DVC experiments over a parameter grid for one motion, run by DVC's queue, then a table."""

from __future__ import annotations

import argparse
import itertools
import json
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger

from flows.artifacts import flatten, markdown_table, publish_sweep
from flows.dvc_tasks import dvc_argv, queue_experiment, run_queue, stage_env
from flows.gpu import GPU_TAG, ensure_gpu_limit, gpu_stage_groups
from flows.pipeline import FlowError, Pipeline


def expand_grid(grid: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Every combination of the grid's values: {"tune.lr": [1, 2], "tune.steps": [5]} -> 2 parameter sets.

    Keys are params.yaml paths as `dvc exp run --set-param` takes them (`motions.slide_right.lr`).
    """
    if not grid:
        raise FlowError("sweep grid is empty: give at least one parameter and its values")
    for key, values in grid.items():
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
            raise FlowError(f"sweep grid: {key!r} needs a non-empty list of values, got {values!r}")
    keys = list(grid)
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*(grid[k] for k in keys))]


@flow(name="sweep")
def sweep_flow(
    motion: str,
    grid: dict[str, list[Any]],
    root: str = ".",
    targets: list[str] | None = None,
    jobs: int = 1,
    gpu_stages: list[str] | None = None,
) -> list[dict[str, Any]]:
    """Queue one DVC experiment per parameter set of `grid` for `motion`, let DVC's queue run them, tabulate.

    The experiments are `dvc exp run --queue` entries (so `dvc queue status`, `dvc queue logs NAME` and
    `dvc exp show` see them as any other), run by `dvc exp run --run-all --jobs <jobs>`, each in a temporary
    copy of the workspace; `dvc exp apply <name>` takes a result. When the motion has a GPU stage, the queue
    run holds one slot of the GPU limit, as any GPU stage of another flow does.

    Args:
        motion: the motion to tune.
        grid: params.yaml keys and the values to try, e.g. {"motions.slide_right.lr": [1e-4, 3e-4]}.
        root: the DVC project (a git repository: DVC keeps experiments as git refs).
        targets: the stages each experiment reproduces (default: the motion's last stages).
        jobs: experiments DVC runs at once (on one GPU slot: they must fit on one GPU together).
        gpu_stages: stage names that need a GPU (default: $LAMP_GPU_STAGES, else base, tune, generate).
    """
    logger = get_run_logger()
    pipeline = Pipeline.load(root)
    stages = pipeline.motion_stages(motion)
    own = pipeline.own_stages(motion)
    downstream = {a for s in own for a in s.upstream}
    targets = list(targets) if targets else [s.address for s in own if s.address not in downstream]
    parameter_sets = expand_grid(grid)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    names = [f"{motion}-{stamp}-{i}" for i in range(len(parameter_sets))]
    logger.info("sweep %s: %d experiments of %s, %d at a time", motion, len(names), ", ".join(targets), jobs)
    for name, params in zip(names, parameter_sets, strict=True):
        queue_experiment(str(pipeline.root), name, params, targets)
    runner = run_queue
    if any(s.group in gpu_stage_groups(gpu_stages) for s in stages):
        ensure_gpu_limit()
        runner = run_queue.with_options(tags={GPU_TAG})
    runner(str(pipeline.root), jobs)
    results = experiment_results(pipeline.root, names, list(grid), [m for s in stages for m in s.metrics])
    rows = [
        {"experiment": name, **params, **results.get(name, {"status": "failed", "error": "not run"})}
        for name, params in zip(names, parameter_sets, strict=True)
    ]
    publish_sweep(motion, rows)
    logger.info("sweep %s:\n%s", motion, markdown_table(rows))
    failed = [r["experiment"] for r in rows if r["status"] == "failed"]
    if failed:
        raise FlowError(
            f"sweep of {motion!r}: {len(failed)} of {len(rows)} experiments failed ({', '.join(failed)}); "
            "`dvc queue logs NAME` shows why"
        )
    return rows


def experiment_results(
    root: Path, names: Sequence[str], param_keys: Sequence[str], metric_files: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """Status, parameters (`param_keys`) and metrics (from `metric_files`) of the named experiments, by name,
    from `dvc exp show --json`; an experiment DVC does not list is left out."""
    shown = subprocess.run(
        dvc_argv("exp", "show", "--json"), cwd=root, env=stage_env(None), capture_output=True, text=True
    )
    try:
        baselines = json.loads(shown.stdout) if shown.returncode == 0 else None
    except json.JSONDecodeError:
        baselines = None
    if baselines is None:
        raise FlowError(f"{root}: `dvc exp show --json` failed: {shown.stderr.strip()[-2000:]}")
    results: dict[str, dict[str, Any]] = {}
    for experiment in (e for b in baselines for e in b.get("experiments") or []):
        for rev in experiment.get("revs") or []:
            if rev.get("name") not in names:
                continue
            data = rev.get("data") or {}
            params = {}
            for file in (data.get("params") or {}).values():
                params |= flatten(file.get("data") or {})
            row = {"status": "failed" if rev.get("error") else "done"}
            row |= {key: params.get(key) for key in param_keys}
            for path in metric_files:
                values = flatten(((data.get("metrics") or {}).get(path) or {}).get("data") or {})
                prefix = f"{path}:" if len(metric_files) > 1 else ""
                row |= {f"{prefix}{k}": v for k, v in values.items()}
            row["error"] = (rev.get("error") or {}).get("msg")
            results[rev["name"]] = row
    return results


def main(argv: list[str] | None = None) -> None:
    """`python -m flows.sweep <motion> '<grid as JSON>' [--jobs N]`: run the flow once, here."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("motion")
    parser.add_argument("grid", type=json.loads, help="e.g. '{\"motions.slide_right.lr\": [1e-4, 3e-4]}'")
    parser.add_argument("--root", default=".")
    parser.add_argument("--jobs", type=int, default=1, help="experiments DVC runs at once")
    args = parser.parse_args(argv)
    sweep_flow(args.motion, args.grid, root=args.root, jobs=args.jobs)


if __name__ == "__main__":
    main()
