"""A local Prefect server for `make ui`: SQLite under $PREFECT_HOME, bound to 127.0.0.1 by default."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class ServerError(RuntimeError):
    """The local Prefect server did not start; the message names its log file."""


def is_healthy(api_url: str) -> bool:
    """Whether a Prefect server answers at `api_url` (`http://host:port/api`)."""
    try:
        with urllib.request.urlopen(f"{api_url}/health", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


@contextmanager
def local_prefect_server(
    host: str = "127.0.0.1", port: int = 4200, log_file: Path | None = None, timeout_s: float = 300.0
) -> Iterator[str]:
    """Start `prefect server start` (unless one already answers there), yield its API URL, stop it on exit.

    Its output goes to `log_file` (default: lamp-ui-server.log in $PREFECT_HOME). The first start creates
    the SQLite database and takes a minute or two on a small machine.
    """
    api_url = f"http://{host}:{port}/api"
    if is_healthy(api_url):
        yield api_url  # someone else's server: use it, leave it running
        return
    if log_file is None:
        from prefect.settings import PREFECT_HOME

        log_file = Path(PREFECT_HOME.value()) / "lamp-ui-server.log"
    log_file.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")  # a local server does not phone home
    with log_file.open("ab") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "prefect", "server", "start", "--host", host, "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            # Its own session: Ctrl-C in the terminal stops the deployments first, which still need the
            # server to pause their schedules; the server is stopped after them, below.
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + timeout_s
        while not is_healthy(api_url):
            if server.poll() is not None:
                raise ServerError(f"the Prefect server exited with {server.returncode}; see {log_file}")
            if time.monotonic() > deadline:
                raise ServerError(
                    f"the Prefect server did not answer at {api_url} in {timeout_s:.0f} s; see {log_file}"
                )
            time.sleep(1.0)
        yield api_url
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
