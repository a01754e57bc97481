"""Pre-deployment P3 and P5: a bounded read-only load probe; monitoring set up (rules, dashboards, Sentry, logs)."""

from __future__ import annotations

import pytest

from postdeploy.checks import loadprobe, monitoring

pytestmark = pytest.mark.pre_deploy


@pytest.mark.checklist("P5", "monitoring.ready")
@pytest.mark.severity("major")
def test_monitoring_ready(target, check):
    """Expected alert rules loaded and healthy, Grafana dashboards exist, Sentry answers, logs readable."""
    check.judge(monitoring.monitoring_ready(target))


@pytest.mark.checklist("P3", "load.probe")
@pytest.mark.depends_on("service")
@pytest.mark.severity("major")
def test_load_probe(target, api, check):
    """A bounded burst of GET/HEAD requests: p50 < 100 ms, p95 < 500 ms, p99 < 1 s, no errors."""
    check.judge(loadprobe.load_probe(api, target.load_probe))
