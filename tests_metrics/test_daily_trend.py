"""Daily, item 27: today against yesterday (`offset 1d`); a drift beyond +-30 % fails."""

from __future__ import annotations

import pytest

from postdeploy.checks import baseline, firsthour
from postdeploy.core.durations import human
from postdeploy.outputs import diagnostics


@pytest.mark.daily
@pytest.mark.checklist(27, "trend")
@pytest.mark.depends_on("process", "prometheus")
@pytest.mark.severity("major")
def test_trend(request, prom, target, deployment, check):
    """Request rate, p95 and error rate of the last window against the same window yesterday."""
    window = firsthour.settled_window(deployment.deployed_at, target.windows.daily, target.windows)
    young = firsthour.too_young(window, target.windows, "trend")
    if young is not None:
        check.judge(young)
    job = target.prometheus.job
    # Yesterday's window is the whole daily window: today's deploy does not cut it.
    pairs = {"today": (window.seconds, ""), "yesterday": (target.windows.daily, "1d")}
    snaps, error = baseline.measure(prom, job, pairs)
    if error is not None:
        check.judge(error)
    today, yesterday = snaps["today"], snaps["yesterday"]
    source = f"the {human(target.windows.daily)} before now, yesterday (offset 1d)"
    cfg = target.baseline
    result = baseline.compare(today, yesterday, source, cfg, target.thresholds, "trend", tolerance=cfg.trend_tolerance)
    check.judge(diagnostics.attach(result, "latency", request, target, window.seconds))
