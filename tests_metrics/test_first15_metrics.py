"""First 15 minutes, items 5-6: error rate and response time since the deploy, from Prometheus."""

from __future__ import annotations

import pytest

from postdeploy.checks import windowed

pytestmark = pytest.mark.first15


@pytest.mark.checklist(5, "error_rate")
@pytest.mark.depends_on("prometheus")
@pytest.mark.severity("major")
def test_error_rate(prom, target, deployment, check):
    """5xx answers and unhandled exceptions below 1 % of requests (above 10 %: rollback)."""
    check.judge(windowed.error_rate(prom, target, deployment.deployed_at, check.getfixturevalue))


@pytest.mark.checklist(6, "latency.p95")
@pytest.mark.depends_on("prometheus")
@pytest.mark.severity("major")
def test_latency_p95(prom, target, deployment, check):
    """The 95th percentile response time below 500 ms."""
    check.judge(windowed.latency_p95(prom, target, deployment.deployed_at, check.getfixturevalue))
