"""First hour, items 11, 13, 14, 16, 18: traffic, memory and CPU, endpoints, jobs, business counters."""

from __future__ import annotations

import time

import pytest

from postdeploy.checks import baseline, firsthour
from postdeploy.core.errors import TargetError
from postdeploy.core.results import failed
from postdeploy.outputs import diagnostics

pytestmark = pytest.mark.first_hour


def _window(target, deployment, longest):
    return firsthour.settled_window(deployment.deployed_at, longest, target.windows)


@pytest.mark.checklist(11, "traffic.routed")
@pytest.mark.depends_on("process", "prometheus")
@pytest.mark.severity("major")
def test_traffic_routed(prom, target, history, check):
    """The request rate is not below the baseline by more than 50 %."""
    seconds = target.windows.rate
    found = baseline.from_history(history)
    if found is not None:
        source, base = found[0], found[1].get("request_rate")
    else:
        offset = target.baseline.offset
        # At least the first-hour window: a history scraped less often than the rate window needs it.
        query = firsthour.request_rate_query(target.prometheus.job, max(seconds, target.windows.first_hour), offset)
        try:
            base = prom.value(query)
        except TargetError as exc:
            check.judge(failed(f"cannot read the baseline request rate: {exc}", evidence={"query": query}))
        source = f"no pre_deploy baseline in the record history; same window {offset} ago: {query}"
    check.judge(firsthour.traffic_routed(prom, target.prometheus.job, seconds, base, source, target.thresholds))


@pytest.mark.checklist(13, "resources")
@pytest.mark.depends_on("process", "prometheus")
@pytest.mark.severity("major")
def test_resources(request, prom, target, deployment, check):
    """No steady memory growth (slope of RSS over the window) and CPU below 80 %."""
    window = _window(target, deployment, target.windows.first_hour)
    young = firsthour.too_young(window, target.windows, "resources")
    if young is not None:
        check.judge(young)
    job, th = target.prometheus.job, target.thresholds
    memory = firsthour.memory_trend(prom, job, window, time.time(), th)
    diagnostics.attach(memory, "memory", request, target, window.seconds)
    cpu = firsthour.cpu_usage(prom, job, target.windows.rate, th)
    check.judge(firsthour.combine({"memory": memory, "cpu": cpu}, "resources"))


@pytest.mark.checklist(14, "endpoints")
@pytest.mark.depends_on("process", "prometheus")
@pytest.mark.severity("major")
def test_endpoints(request, prom, target, deployment, check):
    """Every configured critical endpoint has traffic and no 5xx; p95 per endpoint reported."""
    window = _window(target, deployment, target.windows.first_hour)
    young = firsthour.too_young(window, target.windows, "endpoints")
    if young is not None:
        check.judge(young)
    result = firsthour.endpoints(prom, target.prometheus.job, target.endpoints, window, target.thresholds)
    check.judge(diagnostics.attach(result, "errors", request, target, window))


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
    # The window starts after the deploy: a young release's counters would read as "no sign-ups".
    window = firsthour.settled_window(deployment.deployed_at, target.windows.analytics, target.windows)
    young = firsthour.too_young(window, target.windows, "analytics")
    if young is not None:
        check.judge(young)
    check.judge(firsthour.analytics(prom, target.prometheus.job, window.seconds, target.thresholds))
