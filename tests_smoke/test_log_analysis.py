"""Log analysis: errors in the last hour (item 20, first 24 h) and the top error patterns of a day (26, daily)."""

from __future__ import annotations

import pytest

from postdeploy.checks import logscan


@pytest.mark.first_24h
@pytest.mark.checklist(20, "logs.errors")
@pytest.mark.severity("major")
def test_log_errors(logs, target, deployment, check):
    """Error lines in the last hour below the bound; 'connection refused', 'timeout', ' 500' counted; top 20 attached."""
    check.judge(logscan.errors(logs, deployment.deployed_at, target.log_checks))


@pytest.mark.daily
@pytest.mark.checklist(26, "logs.patterns")
@pytest.mark.severity("minor")
def test_log_patterns(logs, target, check):
    """The top 20 error patterns of the last 24 h attached; their total below the bound."""
    check.judge(logscan.patterns(logs, target.log_checks))
