"""What both benchmarks share: the command line, running each configuration in a fresh worker process,
printing plain against optimised, and writing `reports/bench/<preset>_<benchmark>.json`.

One benchmark command measures both configurations on the same machine, one worker process after the
other, alternating (plain, optimised, plain, optimised, ... with `--rounds`), so that a change of load on
a shared machine affects both alike and the ratio means something. A fresh process per configuration
keeps their memory figures apart (see `measurement.py`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from lamp_core.model import ModelError
from lamp_core.sampling import SamplingError
from lamp_core.training import TuneError

from .configurations import ConfigurationError, RunConfig, optimised_config, plain_config
from .measurement import machine_info
from .presets import PRESET_NAMES, Preset, PresetError, get_preset

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT_DIR = Path("reports/bench")
# Exit codes: 1 a benchmark failed, 2 it cannot run on this machine as asked (e.g. sd14 without a GPU).
EXIT_FAILED, EXIT_UNSUPPORTED = 1, 2


class BenchmarkError(RuntimeError):
    """A benchmark could not run or write its report (the message says which part and why)."""


class NotRunnableHere(BenchmarkError):
    """The benchmark, as asked, needs hardware this machine lacks (exit code 2)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options both benchmarks take (each adds its own counts)."""
    parser.add_argument("--preset", choices=PRESET_NAMES, default="tiny")
    parser.add_argument("--device", default="auto", help="auto (CUDA when available), cpu or cuda[:N]")
    parser.add_argument("--rounds", type=int, default=1, help="alternating plain/optimised runs (default 1)")
    parser.add_argument("--channels-last", action="store_true", help="optimised: channels-last memory format")
    parser.add_argument("--compile", action="store_true", help="optimised: torch.compile the UNet")
    parser.add_argument(
        "--optimised-precision",
        choices=("fp32", "bf16"),
        default=None,
        help="optimised: override the device's default (bf16 on CUDA, fp32 on a CPU)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch threads of both configurations (default: the preset's; tiny: params.yaml; 0: torch's)",
    )
    parser.add_argument(
        "--only", choices=("plain", "optimised"), default=None, help="run one configuration (no ratio)"
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="sd14 on a CPU at 64x64 and 2 frames, to prove the code runs; prints, writes no report",
    )
    parser.add_argument("--params", default="params.yaml", help="parameters file (tiny preset)")
    parser.add_argument("--output-dir", type=Path, default=DEFAULT_OUTPUT_DIR)
    parser.add_argument(
        "--tag", default=None, help="a variant's name: the report is <preset>_<benchmark>_<tag>.json"
    )
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--worker-output", type=Path, default=None, help=argparse.SUPPRESS)


def check_arguments(args: argparse.Namespace) -> None:
    """Refuse option values the benchmark would only trip over at its end."""
    if args.rounds < 1:
        raise BenchmarkError(f"--rounds must be at least 1, not {args.rounds}")
    if args.threads is not None and args.threads < 0:
        raise BenchmarkError(f"--threads must be 0 (torch's default) or more, not {args.threads}")
    if args.tag is not None and not re.fullmatch(r"[A-Za-z0-9][\w.-]*", args.tag):
        raise BenchmarkError(f"--tag {args.tag!r}: use letters, digits, '.', '-' and '_' only")


def resolve_device(name: str) -> torch.device:
    """`auto`: CUDA when available, else the CPU; otherwise the named device (BenchmarkError if absent)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise BenchmarkError(f"--device {name!r}: {exc}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise NotRunnableHere(f"--device {name!r}: CUDA is not available on this machine")
    return device


def load_preset(args: argparse.Namespace, device: torch.device) -> Preset:
    """The preset of the command line, checked against the device (BenchmarkError/PresetError if unfit)."""
    preset = get_preset(args.preset, args.params)
    if args.smoke:
        if preset.name != "sd14":
            raise BenchmarkError("--smoke is for the sd14 preset (tiny runs at its real size anyway)")
        return preset.smoke()
    if preset.needs_cuda and device.type != "cuda":
        raise NotRunnableHere(
            f"preset {preset.name!r} is sized for a CUDA GPU (SD 1.4 at {preset.width}x{preset.height}, "
            f"{preset.n_frames} frames) and this machine has none; run it where a GPU is available, or "
            "add --smoke to check the code path at 64x64 and 2 frames on the CPU (no figures)"
        )
    return preset


def configurations(args: argparse.Namespace, device: torch.device, threads: int) -> list[RunConfig]:
    """Plain and optimised (or the one `--only` names), each checked against the device.

    threads: the preset's torch thread count (`--threads` overrides it), the same for both.
    """
    threads = threads if args.threads is None else args.threads
    # A smoke run checks the GPU configuration's code path (bf16, checkpointing, ...) on the CPU.
    optimised = optimised_config(
        torch.device("cuda") if args.smoke else device,
        channels_last=args.channels_last,
        compile=args.compile,
        adam_8bit=getattr(args, "adam_8bit", False),
        precision=args.optimised_precision,
        threads=threads,
    )
    chosen = [c for c in (plain_config(threads), optimised) if args.only in (None, c.name)]
    for config in chosen:
        config.check_device(device)
    return chosen


def worker_payload(args: argparse.Namespace, config: RunConfig, device: torch.device) -> dict[str, Any]:
    """What every worker is told: preset, parameters file, smoke mode, configuration and device."""
    return {
        "preset": args.preset,
        "params": args.params,
        "smoke": args.smoke,
        "config": config.to_dict(),
        "device": str(device),
    }


def worker_preset(payload: dict[str, Any]) -> Preset:
    """The preset a worker runs (its smoke-sized variant in smoke mode)."""
    preset = get_preset(payload["preset"], payload["params"])
    return preset.smoke() if payload["smoke"] else preset


def run_as_worker(measure: Callable[[dict[str, Any]], dict[str, Any]], args: argparse.Namespace) -> int:
    """The worker side: measure the payload's configuration and write the result for the parent."""
    try:
        result = measure(json.loads(args.worker))
    except (ModelError, TuneError, SamplingError, PresetError, ConfigurationError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    args.worker_output.write_text(json.dumps(result))
    return 0


def run_worker(module: str, payload: dict[str, Any]) -> dict[str, Any]:
    """Run `python -m <module> --worker <payload>` in a fresh process; its JSON result.

    The worker's progress and errors go to this terminal; a failed worker is a BenchmarkError.
    """
    with tempfile.TemporaryDirectory(prefix="lamp-bench-") as folder:
        output = Path(folder) / "result.json"
        command = [sys.executable, "-m", module, "--worker", json.dumps(payload)]
        finished = subprocess.run([*command, "--worker-output", str(output)], cwd=REPO_ROOT, check=False)
        if finished.returncode != 0 or not output.is_file():
            raise BenchmarkError(
                f"the {payload['config']['name']} worker failed (exit code {finished.returncode}; "
                "its messages are above)"
            )
        return json.loads(output.read_text())


def run_rounds(
    module: str,
    configs: Sequence[RunConfig],
    rounds: int,
    payload: Callable[[RunConfig, int], dict[str, Any]],
    merge: Callable[[list[dict[str, Any]]], dict[str, Any]],
) -> dict[str, dict[str, Any]]:
    """Each configuration `rounds` times, alternating, in fresh processes; merged results by name."""
    if rounds < 1:
        raise BenchmarkError(f"--rounds must be at least 1, not {rounds}")
    runs: dict[str, list[dict[str, Any]]] = {c.name: [] for c in configs}
    for index in range(rounds):
        for config in configs:
            print(f"[{index + 1}/{rounds}] {config.name} ...", file=sys.stderr, flush=True)
            runs[config.name].append(run_worker(module, payload(config, index)))
    return {name: merge(results) for name, results in runs.items()}


def command_line(module: str) -> str:
    """The command that reproduces this run."""
    return shlex.join(["python", "-m", module, *sys.argv[1:]])


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """numerator / denominator, or None when either is missing or the denominator is 0."""
    if numerator is None or denominator in (None, 0):
        return None
    return numerator / denominator


def pair(report: dict[str, Any], pick: Callable[[dict[str, Any]], Any]) -> tuple[Any, Any]:
    """(plain, optimised) values of one figure; None for a configuration not run."""
    return tuple(pick(report[name]) if name in report else None for name in ("plain", "optimised"))


def where(machine: dict[str, Any]) -> str:
    """The device a figure was measured on, in words."""
    if machine.get("gpu"):
        return str(machine["gpu"])
    return f"{machine['cpu_model']} ({machine['cpu_cores']} cores, load {machine['load_average_1m']})"


def memory_kind(report: dict[str, Any]) -> str:
    """What the peak-memory figure is (CUDA allocated or host RSS)."""
    kind = next(iter(report.values()))["memory"]["peak_memory_kind"]
    return "CUDA allocated" if kind.startswith("cuda") else "host RSS"


def print_out_of_memory(report: dict[str, Any]) -> None:
    for name, figures in report.items():
        if figures.get("out_of_memory"):
            print(f"  {name}: OUT OF MEMORY ({figures['out_of_memory']})")


def print_table(title: str, rows: Sequence[tuple[str, Any, Any, Any]]) -> None:
    """Rows of (figure, plain, optimised, plain / optimised) under a title."""
    print(title)
    print(f"  {'':28} {'plain':>14} {'optimised':>14} {'plain/opt':>10}")
    for label, plain, optimised, factor in rows:
        print(f"  {label:28} {_cell(plain):>14} {_cell(optimised):>14} {_cell(factor, 'x'):>10}")


def _cell(value: Any, suffix: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}{suffix}"
    return f"{value}{suffix}"


def write_report(
    args: argparse.Namespace, preset: Preset, benchmark: str, module: str, body: dict[str, Any]
) -> Path:
    """Write `<output_dir>/<preset>_<benchmark>[_<tag>].json` (temporary name, then rename); its path."""
    output_dir = args.output_dir
    device = torch.device(body.get("device", "cpu"))
    report = {
        "benchmark": benchmark,
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "command": command_line(module),
        "settings": preset.describe(),
        "machine": body.pop("machine", None) or machine_info(device),
        **body,
    }
    suffix = f"_{args.tag}" if args.tag else ""
    path = output_dir / f"{preset.name}_{benchmark}{suffix}.json"
    partial = path.with_name(f".{path.name}.partial")
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
        partial.write_text(json.dumps(report, indent=2) + "\n")
        os.replace(partial, path)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise BenchmarkError(f"{path}: cannot write the report ({exc.strerror or exc})") from None
    return path


def main_guard(run: Callable[[], int]) -> int:
    """Run a benchmark's main, turning its known errors into a message and an exit code."""
    try:
        return run()
    except (NotRunnableHere, ConfigurationError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_UNSUPPORTED
    except (BenchmarkError, PresetError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
