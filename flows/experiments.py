"""DVC experiments for a parameter sweep: the grid of parameter sets, their names, their results."""

from __future__ import annotations

import itertools
import json
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from flows.dvc_tasks import dvc_argv, stage_env


class SweepError(ValueError):
    """A sweep's grid is malformed, or DVC cannot show the experiments' results."""


def expand_grid(grid: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Every combination of the grid's values: {"tune.lr": [1, 2], "tune.steps": [5]} -> 2 parameter sets.

    Keys are params.yaml paths as `dvc exp run --set-param` takes them (`motions.slide_right.lr`).
    """
    if not grid:
        raise SweepError("sweep grid is empty: give at least one parameter and its values")
    for key, values in grid.items():
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
            raise SweepError(f"sweep grid: {key!r} needs a non-empty list of values, got {values!r}")
    keys = list(grid)
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*(grid[k] for k in keys))]


def experiment_results(
    root: Path, names: Sequence[str], param_keys: Sequence[str], metric_files: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """Parameters (`param_keys`) and metrics (from `metric_files`) of the named experiments, by name.

    Read from `dvc exp show --json`; an experiment DVC does not list is left out.
    """
    shown = subprocess.run(
        dvc_argv("exp", "show", "--json"), cwd=root, env=stage_env(None), capture_output=True, text=True
    )
    if shown.returncode != 0:
        raise SweepError(f"{root}: `dvc exp show --json` failed: {shown.stderr.strip()[-2000:]}")
    try:
        baselines = json.loads(shown.stdout)
    except json.JSONDecodeError as exc:
        raise SweepError(f"{root}: `dvc exp show --json` printed no JSON ({exc})") from None
    wanted = set(names)
    results: dict[str, dict[str, Any]] = {}
    for baseline in baselines:
        for experiment in baseline.get("experiments") or []:
            for rev in experiment.get("revs") or []:
                if rev.get("name") in wanted:
                    results[rev["name"]] = _row(rev.get("data") or {}, param_keys, metric_files)
    return results


def _row(data: dict[str, Any], param_keys: Sequence[str], metric_files: Sequence[str]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for file in (data.get("params") or {}).values():
        params.update(_flatten(file.get("data") or {}))
    row = {key: params.get(key) for key in param_keys}
    metrics = data.get("metrics") or {}
    for path in metric_files:
        values = _flatten((metrics.get(path) or {}).get("data") or {})
        prefix = f"{path}:" if len(metric_files) > 1 else ""
        row.update({f"{prefix}{k}": v for k, v in values.items()})
    return row


def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        flat.update(_flatten(value, name) if isinstance(value, dict) else {name: value})
    return flat
