"""Pre-deployment: the baseline snapshot that item 22 compares the release with."""

from __future__ import annotations

import pytest

from postdeploy.checks import baseline, firsthour


@pytest.mark.pre_deploy
@pytest.mark.checklist("-", "baseline.captured")
@pytest.mark.depends_on("prometheus")
@pytest.mark.severity("minor")
def test_baseline_captured(prom, target, deployment, check):
    """Request rate, error rate and p50/p95/p99 (overall and per critical endpoint), stored in the record."""
    window = firsthour.settled_window(deployment.deployed_at, target.windows.first_hour, target.windows)
    young = firsthour.too_young(window, target.windows, "baseline.captured")
    if young is not None:
        check.judge(young)
    check.judge(baseline.captured(prom, target.prometheus.job, window.seconds, target.endpoints, target.thresholds))
