"""First 15 minutes, item 4: the application logs since the deploy."""

from __future__ import annotations

import pytest

from postdeploy.checks import logs as log_checks

pytestmark = pytest.mark.first15


@pytest.mark.checklist(4, "logs.startup")
@pytest.mark.severity("major")
def test_startup_lines(logs, deployment, check):
    """ "Starting Amani Escrow Backend..." and "Database initialized successfully" since the deploy."""
    check.judge(log_checks.startup(logs, deployment.deployed_at))


@pytest.mark.checklist(4, "logs.clean")
@pytest.mark.severity("major")
def test_no_error_lines(logs, deployment, target, check):
    """No ERROR or CRITICAL line since the deploy (a declared rate limiter's lines are said, not counted)."""
    limiter = [sig.log for sig in target.api.throttle if sig.log]
    check.judge(log_checks.clean(logs, deployment.deployed_at, limiter))
