"""Self-tests of postdeploy: unit tests, and end-to-end runs of the real suite against a sandbox."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandboxrun import Sandbox, start

pytest_plugins = ["pytester"]


def pytest_configure(config: pytest.Config) -> None:
    # pytester's in-process runs re-import hypothesis' pytest plugin state, after which module-level
    # strategies warn that they are "evaluated at import time": a false alarm, not a slow plugin.
    config.addinivalue_line("filterwarnings", "ignore::hypothesis.errors.HypothesisSideeffectWarning")


@pytest.fixture(scope="session")
def box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """One sandbox for the whole self-test session, in a state folder of its own (~10 s to start)."""
    sandbox = start(tmp_path_factory.mktemp("sandbox"))
    yield sandbox
    sandbox.cli("down")
