"""What both benchmarks share: the command line, the worker processes that measure, the comparison of plain
against optimised, and the report `reports/bench/<preset>_<benchmark>[_<tag>].json`.

A benchmark command measures both configurations on the same machine and prints their ratio. How:

- timing `interleaved` (default on a CPU): one worker process sets up both configurations and alternates
  them unit by unit (plain step, optimised step, plain step, ...), so that a change of load on a shared
  machine hits both alike; then one fresh process per configuration (side by side: they are not timed)
  measures its peak memory in a short run (a process's memory cannot be split between two models).
- timing `separate` (default on CUDA, and for smoke runs): one fresh process per configuration, one after
  the other, measures both its time and its memory (two SD 1.4-sized models need not fit at once).

A benchmark supplies `set_up(preset, config, device, count_flops, options) -> Measurable` (a class); the
worker loop is here.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import torch

from lamp_core.atomic_write import write_text
from lamp_core.errors import LampError
from lamp_core.params import PARAMS_FILE

from .configurations import NotRunnableHere, RunConfig, optimised_config, plain_config
from .measurement import MATMUL_REPEATS, MATMUL_SIZE, PeakMemory, machine_info, matmul_tflops
from .presets import PRESET_NAMES, Preset, get_preset

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT_DIR = Path("reports/bench")
# Exit codes: 1 a benchmark failed, 2 it cannot run on this machine as asked (e.g. sd14 without a GPU).
EXIT_FAILED, EXIT_UNSUPPORTED = 1, 2


class Measurable(Protocol):
    """One configuration, set up in a worker: what the worker loop times."""

    info: dict[str, Any]  # set-up facts for the report (setup_s, parameter counts, FLOPs, ...)

    def warm_up(self) -> None:
        """Run untimed work: first-call costs (allocation, kernel choice, compilation) and optimizer state."""

    def run_once(self) -> dict[str, list[float]]:
        """One timed unit (a step, a video); named samples in seconds, e.g. {"step": [0.61]}."""


# set_up(preset, config, device, count_flops, options): options are the benchmark's own (e.g. warm-up steps).
SetUp = Callable[[Preset, RunConfig, torch.device, bool, dict[str, Any]], Measurable]


# ----- command line -----


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options both benchmarks take (each adds its own counts)."""
    parser.add_argument("--preset", choices=PRESET_NAMES, default="tiny")
    parser.add_argument("--device", default="auto", help="auto (CUDA when available), cpu or cuda[:N]")
    parser.add_argument(
        "--timing",
        choices=("interleaved", "separate"),
        default=None,
        help="both configurations alternating in one process (default on a CPU), or one process each",
    )
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
    parser.add_argument("--params", default=PARAMS_FILE, help="parameters file (tiny preset)")
    parser.add_argument("--output-dir", type=Path, default=DEFAULT_OUTPUT_DIR)
    parser.add_argument(
        "--tag", default=None, help="a variant's name: the report is <preset>_<benchmark>_<tag>.json"
    )
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--worker-output", type=Path, default=None, help=argparse.SUPPRESS)


def check_arguments(args: argparse.Namespace) -> None:
    """Refuse option values the benchmark would only trip over at its end."""
    if args.threads is not None and args.threads < 0:
        raise LampError(f"--threads must be 0 (torch's default) or more, not {args.threads}")
    if args.tag is not None and not re.fullmatch(r"[A-Za-z0-9][\w.-]*", args.tag):
        raise LampError(f"--tag {args.tag!r}: use letters, digits, '.', '-' and '_' only")


def resolve_device(name: str) -> torch.device:
    """`auto`: CUDA when available, else the CPU; otherwise the named device (LampError if absent)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise LampError(f"--device {name!r}: {exc}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise NotRunnableHere(f"--device {name!r}: CUDA is not available on this machine")
    return device


def load_preset(args: argparse.Namespace, device: torch.device) -> Preset:
    """The preset of the command line, checked against the device."""
    preset = get_preset(args.preset, args.params)
    if args.smoke:
        if preset.name != "sd14":
            raise LampError("--smoke is for the sd14 preset (tiny runs at its real size anyway)")
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


def timing_mode(args: argparse.Namespace, device: torch.device) -> str:
    """`--timing`, or its default: interleaved on a CPU (shared, noisy), else (CUDA, smoke runs) separate."""
    if args.timing is not None:
        return args.timing
    return "interleaved" if device.type == "cpu" and not args.smoke else "separate"


# ----- workers -----


def run_as_worker(set_up: SetUp, args: argparse.Namespace) -> int:
    """The worker side: measure the payload's configurations and write the result for the parent."""
    try:
        result = _measure(set_up, json.loads(args.worker))
    except LampError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    args.worker_output.write_text(json.dumps(result))
    return 0


def _measure(set_up: SetUp, payload: dict[str, Any]) -> dict[str, Any]:
    """Set up every configuration of the payload, warm each up, then run `units` units of each, alternating.

    With `memory` (one configuration only), peak memory is measured over the timed units.
    """
    preset = get_preset(payload["preset"], payload["params"])
    preset = preset.smoke() if payload["smoke"] else preset
    configs = [RunConfig.from_dict(c) for c in payload["configs"]]
    device = torch.device(payload["device"])
    configs[0].apply_threads()  # a process has one thread count: configurations share it
    runs, results = {}, {}
    for index, config in enumerate(configs):
        began = time.perf_counter()
        count_flops = payload["count_flops"] and index == 0
        runs[config.name] = set_up(preset, config, device, count_flops, payload["options"])
        results[config.name] = {"config": config.to_dict(), **runs[config.name].info}
        results[config.name]["setup_s"] = time.perf_counter() - began
        results[config.name] |= {"samples": {}, "out_of_memory": None}

    memory = PeakMemory(device) if payload["memory"] else None
    try:
        for name, run in runs.items():
            began = time.perf_counter()
            run.warm_up()
            results[name]["warm_up_s"] = time.perf_counter() - began
        if memory is not None:
            memory.reset()
        for _ in range(payload["units"]):
            for name, run in runs.items():
                for key, seconds in run.run_once().items():
                    results[name]["samples"].setdefault(key, []).extend(seconds)
    except torch.OutOfMemoryError as exc:
        for result in results.values():
            result["out_of_memory"] = str(exc).splitlines()[0]
    if memory is not None:
        results[configs[0].name]["memory"] = memory.read()
    for name, run in runs.items():
        results[name] |= run.info  # facts gathered while running (first-call time, ...)
    runs.clear()  # the models' memory goes before the matmul reference runs
    machine = machine_info(device) | {"matmul_fp32_tflops": matmul_tflops(device)}
    return {"machine": machine, "runs": results}


def run_workers(module: str, payloads: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Run `python -m <module> --worker <payload>` for every payload, all at once, each in a fresh process;
    their JSON results, in order.

    The workers' progress and errors go to this terminal; a failed worker is a LampError.
    """
    with tempfile.TemporaryDirectory(prefix="lamp-bench-") as folder:
        outputs = [Path(folder) / f"result-{i}.json" for i in range(len(payloads))]
        processes = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    module,
                    "--worker",
                    json.dumps(payload),
                    "--worker-output",
                    str(output),
                ],
                cwd=REPO_ROOT,
            )
            for payload, output in zip(payloads, outputs, strict=True)
        ]
        codes = [process.wait() for process in processes]
        for payload, output, code in zip(payloads, outputs, codes, strict=True):
            if code != 0 or not output.is_file():
                names = ", ".join(c["name"] for c in payload["configs"])
                raise LampError(
                    f"the worker measuring {names} failed (exit code {code}; its messages are above)"
                )
        return [json.loads(output.read_text()) for output in outputs]


def measure(
    module: str,
    args: argparse.Namespace,
    configs: Sequence[RunConfig],
    device: torch.device,
    units: int,
    memory_units: int,
    options: dict[str, Any],
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """Measure `configs` as `timing_mode` says; (machine, results by configuration name).

    units: timed units per configuration; memory_units: units of a memory-only run (interleaved timing);
    options: passed to the benchmark's set-up.
    """
    common = {
        "preset": args.preset,
        "params": args.params,
        "smoke": args.smoke,
        "device": str(device),
        "options": options,
    }
    mode = timing_mode(args, device)
    results: dict[str, dict[str, Any]] = {}
    if mode == "interleaved" and len(configs) > 1:
        _say(f"timing: {' and '.join(c.name for c in configs)} alternating in one process")
        (timing,) = run_workers(
            module,
            [
                {**common, "configs": [c.to_dict() for c in configs], "units": units, "memory": False}
                | {"count_flops": True}
            ],
        )
        machine = timing["machine"]
        # Memory runs are not timed, so they may run side by side.
        _say(f"memory: {' and '.join(c.name for c in configs)}, each in a fresh process")
        alone = run_workers(
            module,
            [
                {**common, "configs": [c.to_dict()], "units": memory_units, "memory": True}
                | {"count_flops": False}
                for c in configs
            ],
        )
        for config, result in zip(configs, alone, strict=True):
            results[config.name] = timing["runs"][config.name] | {
                "memory": result["runs"][config.name]["memory"]
            }
    else:
        machine = {}
        for index, config in enumerate(configs):
            _say(f"{config.name}: time and memory in a fresh process")
            (alone,) = run_workers(
                module,
                [
                    {**common, "configs": [config.to_dict()], "units": units, "memory": True}
                    | {"count_flops": index == 0}
                ],
            )
            machine = machine or alone["machine"]
            results[config.name] = alone["runs"][config.name]
    for result in results.values():
        result["timing"] = mode if len(configs) > 1 else "separate"
    return machine, results


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ----- printing and the report -----


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """numerator / denominator, or None when either is missing or the denominator is 0."""
    if numerator is None or denominator in (None, 0):
        return None
    return numerator / denominator


MATMUL_ROW = "model FLOP/s / fp32 matmul FLOP/s"


def matmul_line(machine: dict[str, Any]) -> str:
    """The reference the matmul ratio is taken against, as one printed line."""
    rate = machine.get("matmul_fp32_tflops")
    if rate is None:
        return "  fp32 matmul rate: not measured"
    return (
        f"  fp32 matmul rate, {MATMUL_SIZE}x{MATMUL_SIZE}, {machine.get('torch_threads')} thread(s), best of "
        f"{MATMUL_REPEATS}, same run: {rate * 1e3:.1f} GFLOP/s"
    )


def pair(report: dict[str, Any], pick: Callable[[dict[str, Any]], Any]) -> tuple[Any, Any]:
    """(plain, optimised) values of one figure; None for a configuration not run or a missing figure."""
    values = []
    for name in ("plain", "optimised"):
        try:
            values.append(pick(report[name]) if name in report else None)
        except (KeyError, TypeError):
            values.append(None)
    return values[0], values[1]


def where(machine: dict[str, Any]) -> str:
    """The device a figure was measured on, in words."""
    if machine.get("gpu"):
        return str(machine["gpu"])
    return f"{machine['cpu_model']} ({machine['cpu_cores']} cores, load {machine['load_average_1m']})"


def memory_kind(report: dict[str, Any]) -> str:
    """What the peak-memory figure is (CUDA allocated or host RSS)."""
    kind = next(iter(report.values()))["memory"]["peak_memory_kind"]
    return "CUDA allocated" if kind.startswith("cuda") else "host RSS"


def print_table(title: str, rows: Sequence[tuple[str, Any, Any, Any]]) -> None:
    """Rows of (figure, plain, optimised, plain / optimised) under a title."""
    print(title)
    print(f"  {'':36} {'plain':>12} {'optimised':>12} {'plain/opt':>10}")
    for label, plain, optimised, factor in rows:
        print(f"  {label:36} {_cell(plain):>12} {_cell(optimised):>12} {_cell(factor, 'x'):>10}")


def print_out_of_memory(report: dict[str, Any]) -> None:
    for name, figures in report.items():
        if figures.get("out_of_memory"):
            print(f"  {name}: OUT OF MEMORY ({figures['out_of_memory']})")


def _cell(value: Any, suffix: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}{suffix}"
    return f"{value}{suffix}"


def command_line(module: str) -> str:
    """The command that reproduces this run."""
    return shlex.join(["python", "-m", module, *sys.argv[1:]])


def write_report(
    args: argparse.Namespace, preset: Preset, benchmark: str, module: str, body: dict[str, Any]
) -> Path:
    """Write `<output_dir>/<preset>_<benchmark>[_<tag>].json` (temporary name, then rename); its path."""
    report = {
        "benchmark": benchmark,
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "command": command_line(module),
        "settings": preset.describe(),
        **body,
    }
    suffix = f"_{args.tag}" if args.tag else ""
    path = args.output_dir / f"{preset.name}_{benchmark}{suffix}.json"
    try:
        return write_text(path, json.dumps(report, indent=2) + "\n")
    except LampError as exc:
        raise LampError(f"cannot write the report: {exc}") from None


def main_guard(run: Callable[[], int]) -> int:
    """Run a benchmark's main, turning its known errors into a message and an exit code."""
    try:
        return run()
    except NotRunnableHere as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_UNSUPPORTED
    except LampError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
