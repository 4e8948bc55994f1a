"""Fixtures of the report tests: a small project whose motions are evaluated and reported once."""

import pytest
from sample_folders import build_reported_project


@pytest.fixture(scope="session")
def project(tmp_path_factory):
    """A project with slide_right and orbit evaluated and reported (see `build_reported_project`)."""
    return build_reported_project(tmp_path_factory.mktemp("project"))
