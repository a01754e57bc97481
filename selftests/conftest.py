"""Self-tests of postdeploy: unit tests, and end-to-end runs of the real suite against a sandbox."""

from __future__ import annotations

pytest_plugins = ["pytester"]
