"""First 15 minutes, items 5-6: error rate and response time since the deploy, from Prometheus."""

from __future__ import annotations

import time

import pytest

from postdeploy.checks import metrics
from postdeploy.outputs import diagnostics

pytestmark = pytest.mark.first15


@pytest.mark.checklist(5, "error_rate")
@pytest.mark.depends_on("prometheus")
@pytest.mark.severity("major")
def test_error_rate(request, prom, target, deployment, check):
    """5xx answers and unhandled exceptions below 1 % of requests (above 10 %: rollback)."""
    window = metrics.window_since(deployment.deployed_at, time.time(), target.windows.first15)
    result = metrics.error_rate(prom, target.prometheus.job, window, target.thresholds)
    check.judge(diagnostics.attach(result, "errors", request, target, window))


@pytest.mark.checklist(6, "latency.p95")
@pytest.mark.depends_on("prometheus")
@pytest.mark.severity("major")
def test_latency_p95(request, prom, target, deployment, check):
    """The 95th percentile response time below 500 ms."""
    window = metrics.window_since(deployment.deployed_at, time.time(), target.windows.first15)
    result = metrics.latency_p95(prom, target.prometheus.job, window, target.thresholds)
    check.judge(diagnostics.attach(result, "latency", request, target, window.seconds))
