"""Fixtures of the flow tests: one Prefect test server per session, throwaway DVC projects."""

from __future__ import annotations

import os

# Before Prefect is imported anywhere: no analytics from the test server, nor from each DVC command (which
# would start a background process per command on a machine without internet).
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ["DVC_NO_ANALYTICS"] = "1"

import pytest


@pytest.fixture(scope="session")
def prefect_server():
    """A temporary Prefect server and database for the whole session (starting one takes ~20 s).

    Its URL is also exported, so processes the flows start (Dask workers) talk to it too.
    """
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        previous = os.environ.get("PREFECT_API_URL")
        os.environ["PREFECT_API_URL"] = PREFECT_API_URL.value()
        try:
            yield PREFECT_API_URL.value()
        finally:
            if previous is None:
                os.environ.pop("PREFECT_API_URL", None)
            else:
                os.environ["PREFECT_API_URL"] = previous
