"""`make ui` (`python -m flows.serve`): Prefect's own local server, and the flows served as deployments.

Open the printed URL, pick a deployment (motions, sweep) and run it with parameters, or give it a
schedule (Deployments -> the deployment -> Schedules -> +, cron). Flow runs execute on this machine, in the
project at --root. With PREFECT_API_URL already set (your own server, Prefect Cloud), the deployments are
served to that instead and no server is started.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from prefect import get_client, serve
from prefect.client.schemas.actions import DeploymentScheduleCreate
from prefect.client.schemas.schedules import CronSchedule
from prefect.exceptions import ObjectNotFound
from prefect.settings import PREFECT_API_URL, temporary_settings

from flows.gpu import ensure_gpu_limit
from flows.motions import motions_flow
from flows.pipeline import FlowError
from flows.sweep import sweep_flow

PROJECT_ROOT = Path(__file__).resolve().parents[1]
FLOWS = {"motions": motions_flow, "sweep": sweep_flow}


def deployments(root: Path, crons: dict[str, str] | None = None) -> list:
    """One deployment named `lamp` per flow, its `root` parameter set to `root`.

    A served deployment's schedules are rewritten each time it is served, so the schedules it already has
    on the server (given in the UI) are carried over; `crons` adds one to some flows.
    """
    crons = crons or {}
    served = []
    for name, flow in FLOWS.items():
        schedules = _schedules_on_server(f"{name}/lamp")
        if name in crons and all(getattr(s.schedule, "cron", None) != crons[name] for s in schedules):
            schedules.append(DeploymentScheduleCreate(schedule=CronSchedule(cron=crons[name])))
        served.append(
            flow.to_deployment(
                name="lamp",
                parameters={"root": str(root)},
                schedules=schedules,
                description=(flow.fn.__doc__ or "").strip().splitlines()[0],
                tags=["lamp"],
            )
        )
    return served


def _schedules_on_server(deployment: str) -> list[DeploymentScheduleCreate]:
    with get_client(sync_client=True) as client:
        try:
            existing = client.read_deployment_by_name(deployment)
        except ObjectNotFound:
            return []
    return [
        DeploymentScheduleCreate(schedule=s.schedule, active=s.active, parameters=s.parameters, slug=s.slug)
        for s in existing.schedules
    ]


def parse_crons(items: list[str]) -> dict[str, str]:
    """`motions=0 3 * * *` -> {"motions": "0 3 * * *"}, checking the flow name."""
    crons = {}
    for item in items:
        name, sep, expression = item.partition("=")
        if not sep or name not in FLOWS or not expression.strip():
            raise SystemExit(f"--cron {item!r}: expected FLOW=CRON with FLOW one of {', '.join(FLOWS)}")
        crons[name] = expression.strip()
    return crons


def main(argv: list[str] | None = None) -> None:
    """Start the local server if none is configured, then serve the deployments until interrupted."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--root", type=Path, default=PROJECT_ROOT, help="the DVC project the flows run in")
    parser.add_argument("--host", default="127.0.0.1", help="address the local server listens on")
    parser.add_argument("--port", type=int, default=4200)
    parser.add_argument(
        "--cron", action="append", default=[], metavar="FLOW=CRON", help='e.g. "motions=0 3 * * *"'
    )
    parser.add_argument("--limit", type=int, default=None, help="flow runs at once (default: no limit)")
    args = parser.parse_args(argv)
    crons = parse_crons(args.cron)
    if PREFECT_API_URL.value():
        if not is_healthy(PREFECT_API_URL.value()):
            raise FlowError(
                f"PREFECT_API_URL={PREFECT_API_URL.value()} does not answer; start that server, or unset "
                "PREFECT_API_URL to have a local one started"
            )
        ensure_gpu_limit()
        serve(*deployments(args.root.resolve(), crons), limit=args.limit)
        return
    api_url = f"http://{args.host}:{args.port}/api"
    prefect = [sys.executable, "-m", "prefect", "server"]
    env = {**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}  # a local server does not phone home
    started = not is_healthy(api_url)  # a server already answering there is someone else's: left running
    if started:  # `prefect server start --background`: SQLite under $PREFECT_HOME
        subprocess.run([*prefect, "start", "--background", "--host", args.host, "--port", str(args.port)],
                       env=env, check=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 300  # the first start creates the database: a minute or two
        while not is_healthy(api_url):
            if time.monotonic() > deadline:
                raise FlowError(f"the Prefect server did not answer at {api_url} in 300 s")
            time.sleep(1.0)
        with temporary_settings({PREFECT_API_URL: api_url}):
            os.environ["PREFECT_API_URL"] = api_url  # the flow runs start as subprocesses: they need it too
            ensure_gpu_limit()
            print(f"Prefect UI: {api_url.removesuffix('/api')}  (Ctrl-C stops stops it all)")
            serve(*deployments(args.root.resolve(), crons), limit=args.limit)
    finally:
        if started:
            subprocess.run([*prefect, "stop"], env=env, check=False)


def is_healthy(api_url: str) -> bool:
    """Whether a Prefect server answers at `api_url` (`http://host:port/api`)."""
    try:
        with urllib.request.urlopen(f"{api_url}/health", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


if __name__ == "__main__":
    main()
