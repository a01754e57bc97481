"""First 24 hours, items 19 and 22: the dashboard review and the comparison with the baseline."""

from __future__ import annotations

import pytest

from postdeploy.checks import windowed

pytestmark = pytest.mark.first_24h


@pytest.mark.checklist(19, "dashboard")
@pytest.mark.depends_on("process", "prometheus")
@pytest.mark.severity("major")
def test_dashboard(prom, target, deployment, check):
    """Error rate < 1 %, p95 < 500 ms, no memory leak, no CPU anomaly, DB connections stable."""
    check.judge(windowed.dashboard(prom, target, deployment.deployed_at, check.getfixturevalue))


@pytest.mark.checklist(22, "baseline.compare")
@pytest.mark.depends_on("process", "prometheus")
@pytest.mark.severity("major")
def test_baseline_compare(prom, target, deployment, history, check):
    """Request rate within +-20 %, p95 within +30 % (floor 50 ms), error rate < 2x the baseline."""
    check.judge(
        windowed.baseline_compare(prom, target, deployment.deployed_at, history, check.id, check.getfixturevalue)
    )
