"""A throwaway DVC project shaped like lamp's pipeline, with stages that take well under a second.

Stages: `base` (shared by every motion), per motion `frames@m` -> `tune@m` (the GPU stage: it sleeps and
prints progress), and a cross-motion `report`. Each stage's command is `python step.py <stage>
<motion>`, which appends its start and end to events.jsonl (not tracked by DVC), and obeys marker files:
`FAIL-<stage>` makes it exit with an error, `FLAKY-<stage>` makes it kill itself once (a passing failure).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from pathlib import Path

import yaml

from flows.dvc_tasks import dvc_argv, stage_env

STEP_SCRIPT = """\
import json, os, signal, sys, time
from pathlib import Path

import yaml

stage, key = sys.argv[1], sys.argv[2]
name = stage if key == "-" else f"{stage}@{key}"


def record(event):
    with open("events.jsonl", "a") as f:
        f.write(json.dumps({"stage": name, "event": event, "t": time.time(), "pid": os.getpid()}) + "\\n")


record("start")
if Path(f"FAIL-{name}").exists():
    print(f"{name}: told to fail", file=sys.stderr)
    sys.exit(3)
if Path(f"FLAKY-{name}").exists():
    Path(f"FLAKY-{name}").unlink()
    record("killed")
    os.kill(os.getpid(), signal.SIGKILL)
out = Path("out") / (key if key != "-" else "shared")
out.mkdir(parents=True, exist_ok=True)
if stage == "tune":
    lr = yaml.safe_load(open("params.yaml"))["motions"][key]["lr"]
    for step in range(1, 5):
        time.sleep(0.2)
        print(f"step {step}/4 loss {lr * 10 / step:.3f}", flush=True)
    json.dump({"loss": lr * 10, "steps": 4}, open(out / "metrics.json", "w"))
    (out / "sample.gif").write_bytes(b"GIF89a" + key.encode())
(out / f"{stage}.txt").write_text(f"{name} lr-free output\\n")
record("end")
"""


def stage(cmd: str, deps: list[str], outs: list, params: list[str] | None = None) -> dict:
    entry: dict = {"cmd": cmd, "deps": deps, "outs": outs}
    if params:
        entry["params"] = params
    return entry


def write_toy_project(
    root: Path, motions: Sequence[str] = ("alpha", "beta"), report: bool = True, git: bool = False
) -> Path:
    """Create the project in `root` (a new directory), `dvc init` it, and return `root`."""
    root.mkdir(parents=True)
    (root / "step.py").write_text(STEP_SCRIPT)
    params = {"motions": {m: {"lr": 0.1 * (i + 1)} for i, m in enumerate(motions)}}
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    key = "${key}"
    stages = {
        "base": stage("python step.py base -", ["step.py"], ["out/shared/base.txt"]),
        "frames": {
            "foreach": "${motions}",
            "do": stage(
                f"python step.py frames {key}",
                ["step.py"],
                [f"out/{key}/frames.txt"],
            ),
        },
        "tune": {
            "foreach": "${motions}",
            "do": {
                **stage(
                    f"python step.py tune {key}",
                    ["step.py", f"out/{key}/frames.txt", "out/shared/base.txt"],
                    [f"out/{key}/tune.txt", f"out/{key}/sample.gif"],
                    params=[f"motions.{key}.lr"],
                ),
                "metrics": [{f"out/{key}/metrics.json": {"cache": False}}],
            },
        },
    }
    if report:
        stages["report"] = stage(
            "python step.py report -", [f"out/{m}/tune.txt" for m in motions], ["out/shared/report.txt"]
        )
    (root / "dvc.yaml").write_text(yaml.safe_dump({"stages": stages}, sort_keys=False))
    (root / ".gitignore").write_text("events.jsonl\nFAIL-*\nFLAKY-*\n")
    if git:
        _run(["git", "init", "-q"], root)
        _run(dvc_argv("init", "-q"), root)
        _run(["git", "add", "-A"], root)
        _run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "toy project"], root)
    else:
        _run(dvc_argv("init", "-q", "--no-scm"), root)
    return root


def dvc(root: Path, *args: str) -> str:
    """Run `dvc <args>` in `root` as a user would; return its output, fail the test on an error."""
    return _run(dvc_argv(*args), root)


def _run(argv: list[str], root: Path) -> str:
    done = subprocess.run(argv, cwd=root, env=stage_env(None), capture_output=True, text=True)
    assert done.returncode == 0, f"{' '.join(argv)} failed in {root}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def events(root: Path) -> list[dict]:
    """The stage starts and ends recorded so far, in order."""
    path = root / "events.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def starts(root: Path) -> dict[str, int]:
    """How many times each stage's command started."""
    counts: dict[str, int] = {}
    for event in events(root):
        if event["event"] == "start":
            counts[event["stage"]] = counts.get(event["stage"], 0) + 1
    return counts
