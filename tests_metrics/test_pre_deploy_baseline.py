"""Pre-deployment: the baseline snapshot that item 22 compares the release with."""

from __future__ import annotations

import pytest

from postdeploy.checks import windowed


@pytest.mark.pre_deploy
@pytest.mark.checklist("-", "baseline.captured")
@pytest.mark.depends_on("prometheus")
@pytest.mark.severity("minor")
def test_baseline_captured(prom, target, deployment, check):
    """Request rate, error rate and p50/p95/p99 (overall and per critical endpoint), stored in the record."""
    check.judge(windowed.baseline_captured(prom, target, deployment.deployed_at))
