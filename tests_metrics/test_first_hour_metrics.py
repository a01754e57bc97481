"""First hour, items 11, 13, 14, 16, 18: traffic, memory and CPU, endpoints, jobs, business counters."""

from __future__ import annotations

import pytest

from postdeploy.checks import firsthour, windowed

pytestmark = pytest.mark.first_hour


@pytest.mark.checklist(11, "traffic.routed")
@pytest.mark.depends_on("process", "prometheus")
@pytest.mark.severity("major")
def test_traffic_routed(prom, target, history, check):
    """The request rate is not below the baseline by more than 50 %."""
    check.judge(windowed.traffic_routed(prom, target, history))


@pytest.mark.checklist(13, "resources")
@pytest.mark.depends_on("process", "prometheus")
@pytest.mark.severity("major")
def test_resources(prom, target, deployment, check):
    """No steady memory growth (slope of RSS over the window) and CPU below 80 %."""
    check.judge(windowed.resources(prom, target, deployment.deployed_at, check.getfixturevalue))


@pytest.mark.checklist(14, "endpoints")
@pytest.mark.depends_on("process", "prometheus")
@pytest.mark.severity("major")
def test_endpoints(prom, target, deployment, check):
    """Every configured critical endpoint has traffic and no 5xx; p95 per endpoint reported."""
    check.judge(windowed.endpoints(prom, target, deployment.deployed_at, check.getfixturevalue))


@pytest.mark.checklist(16, "jobs.schedule")
@pytest.mark.depends_on("process")
@pytest.mark.severity("major")
def test_jobs_schedule(target, check):
    """Each configured background job ran within its interval (last-run metric or newest row)."""
    check.judge(firsthour.jobs(target, check.fixture))


@pytest.mark.checklist(18, "analytics")
@pytest.mark.depends_on("process", "prometheus")
@pytest.mark.severity("minor")
def test_analytics(prom, target, deployment, check):
    """Registrations and transactions per hour within the Key-metrics business ranges."""
    check.judge(windowed.analytics(prom, target, deployment.deployed_at))
