"""DVC stage `tune`: LAMP few-shot tuning of one motion, data/frames/<motion>/ -> data/motions/<motion>/.

python -m stages.tune slide_right

Resumes from data/checkpoints/<motion>/ when a run of the same settings was interrupted. With
`tune.num_processes` > 1 the stage relaunches itself through `accelerate launch` (N processes: GPUs, or
CPU processes over gloo on a machine without one); started by `accelerate launch` (e.g. with your own
multi-machine config), it runs as launched.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

import torch

from lamp_core.errors import LampError
from lamp_core.params import PARAMS_FILE, load_params, motion_config
from lamp_core.paths import DATA_DIR, REPORTS_DIR, motion_paths
from lamp_core.stage_timing import run_timed
from lamp_core.training import ModelSettings, TuneJob, TunePaths, TuneSettings, base_source, tune_motion


def relaunch_command(num_processes: int, mixed_precision: str, argv: list[str]) -> list[str]:
    """The `accelerate launch` command that runs this stage in `num_processes` processes.

    accelerate's `--multi_gpu` launcher (torch.distributed.run) starts the processes; on a machine without
    CUDA they train on the CPU over gloo (`--cpu` would start a single process).
    """
    return [
        sys.executable, "-m", "accelerate.commands.launch",
        "--multi_gpu", "--num_processes", str(num_processes), "--num_machines", "1",
        "--mixed_precision", mixed_precision, "--dynamo_backend", "no",
        "-m", "stages.tune", *argv,
    ]  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="python -m stages.tune", description=__doc__.splitlines()[0])
    parser.add_argument("motion", help="an entry of `motions:` in params.yaml")
    parser.add_argument("--params", default=PARAMS_FILE, help="parameters file (default: %(default)s)")
    parser.add_argument("--data-dir", default=DATA_DIR, help="data folder (default: %(default)s)")
    parser.add_argument("--reports-dir", default=REPORTS_DIR, help="reports folder (default: %(default)s)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s")
    try:
        params = load_params(args.params)
        motion = motion_config(params, args.motion)
        motion_paths(args.motion, args.data_dir)  # refuses names unfit for a folder
        job = TuneJob(
            motion=motion,
            tune=TuneSettings.for_motion(params.get("tune"), motion),
            model=ModelSettings.from_dict(params.get("model")),
            base=base_source(params),
            paths=TunePaths.for_motion(args.motion, args.data_dir, args.reports_dir),
        )
    except LampError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if job.tune.num_processes > 1 and "WORLD_SIZE" not in os.environ:
        gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if 0 < gpus < job.tune.num_processes:
            print(
                f"error: {args.params}: tune.num_processes is {job.tune.num_processes} but this machine has "
                f"{gpus} GPU(s); one process per GPU",
                file=sys.stderr,
            )
            return 1
        command = relaunch_command(job.tune.num_processes, job.tune.mixed_precision, argv)
        sys.stdout.flush()
        os.execv(command[0], command)

    if job.tune.threads:
        torch.set_num_threads(job.tune.threads)  # results are bit-identical for a given thread count
    try:
        result = tune_motion(job)
    except LampError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if os.environ.get("RANK", "0") == "0":
        resumed = f", resumed from step {result.resumed_from}" if result.resumed_from else ""
        speed = f", {result.steps_per_second:.2f} steps/s" if result.steps_per_second else ""
        print(
            f"tune {args.motion}: {result.steps} steps{resumed}, final loss {result.final_loss:.4f}"
            f"{speed} -> {result.output}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(run_timed(main))
