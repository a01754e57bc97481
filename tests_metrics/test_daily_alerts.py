"""Daily item 25 (no critical alert firing, overnight Sentry errors) and weekly item 29 (alert review)."""

from __future__ import annotations

import time

import pytest

from postdeploy.checks import alerts


@pytest.mark.daily
@pytest.mark.checklist(25, "morning.health")
@pytest.mark.severity("major")
def test_morning_health(target, check):
    """No critical alert firing (Alertmanager, or Prometheus' own alerts without one); the overnight Sentry errors listed."""
    check.judge(alerts.morning(target, check.fixture))


@pytest.mark.weekly
@pytest.mark.checklist(29, "alerts.tuning")
@pytest.mark.depends_on("prometheus")
@pytest.mark.severity("minor")
def test_alerts_tuning(prom, target, check):
    """Alerts that fired in the week listed (ALERTS series); flapping ones flagged."""
    check.judge(alerts.alerts_tuning(prom, target.alerts_review, time.time()))
