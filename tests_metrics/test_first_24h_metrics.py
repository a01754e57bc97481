"""First 24 hours, items 19 and 22: the dashboard review and the comparison with the baseline."""

from __future__ import annotations

import time

import pytest

from postdeploy.checks import baseline, database, firsthour, metrics
from postdeploy.core.results import Result
from postdeploy.outputs import diagnostics

pytestmark = pytest.mark.first_24h


def db_connections_part(request: pytest.FixtureRequest, prom, target, deployment) -> dict[str, Result]:
    """ "DB connections stable" of the dashboard review: the db.connections judgement (both sources)."""
    if target.database is None:
        return {}
    conn = request.getfixturevalue("db")
    job = target.prometheus.job
    return {"db connections": database.connections(prom, job, conn, target.db_checks, deployment.deployed_at)}


@pytest.mark.checklist(19, "dashboard")
@pytest.mark.depends_on("process", "prometheus")
@pytest.mark.severity("major")
def test_dashboard(request, prom, target, deployment, check):
    """Error rate < 1 %, p95 < 500 ms, no memory leak, no CPU anomaly, DB connections stable."""
    window = firsthour.settled_window(deployment.deployed_at, target.windows.first_24h, target.windows)
    young = firsthour.too_young(window, target.windows, "dashboard")
    if young is not None:
        check.judge(young)
    job, th = target.prometheus.job, target.thresholds
    parts = {
        "error rate": diagnostics.attach(metrics.error_rate(prom, job, window, th), "errors", request, target, window),
        "p95": diagnostics.attach(
            metrics.latency_p95(prom, job, window, th), "latency", request, target, window.seconds
        ),
        "memory": diagnostics.attach(
            firsthour.memory_trend(prom, job, window, time.time(), th), "memory", request, target, window.seconds
        ),
        "cpu": firsthour.cpu_usage(prom, job, target.windows.rate, th),
    }
    parts.update(db_connections_part(request, prom, target, deployment))
    result = firsthour.combine(parts, "dashboard")
    # The Key-metrics targets (p50/p95/p99, error rate) as the report's action lines.
    snaps, error = baseline.measure(prom, job, {"p50/p95/p99": (window.seconds, "")})
    if error is None:
        snap = snaps["p50/p95/p99"]
        result.evidence["p50 / p95 / p99"] = baseline.describe(snap)
        actions = baseline.key_actions(snap, th)
        result.evidence["key metrics"] = "; ".join(actions) or "within the Key-metrics targets"
    check.judge(result)


@pytest.mark.checklist(22, "baseline.compare")
@pytest.mark.depends_on("process", "prometheus")
@pytest.mark.severity("major")
def test_baseline_compare(request, prom, target, deployment, history, check):
    """Request rate within +-20 %, p95 within +30 % (floor 50 ms), error rate < 2x the baseline."""
    window = firsthour.settled_window(deployment.deployed_at, target.windows.first_24h, target.windows)
    check.judge(
        firsthour.too_young(window, target.windows, check.id)
        or diagnostics.attach(
            baseline.against_baseline(prom, target, window.seconds, history, check.id),
            "latency",
            request,
            target,
            window.seconds,
        )
    )
