"""Daily, item 27: today against yesterday (`offset 1d`); a drift beyond +-30 % fails."""

from __future__ import annotations

import pytest

from postdeploy.checks import windowed


@pytest.mark.daily
@pytest.mark.checklist(27, "trend")
@pytest.mark.depends_on("process", "prometheus")
@pytest.mark.severity("major")
def test_trend(prom, target, deployment, check):
    """Request rate, p95 and error rate of the last window against the same window yesterday."""
    check.judge(windowed.trend(prom, target, deployment.deployed_at, check.getfixturevalue))
