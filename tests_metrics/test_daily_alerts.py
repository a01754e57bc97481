"""Daily item 25 (no critical alert firing, overnight Sentry errors) and weekly item 29 (alert review)."""

from __future__ import annotations

import time

import pytest

from postdeploy.alertmanager import AlertmanagerClient, PrometheusAlerts
from postdeploy.checks import alerts
from postdeploy.sentryapi import SentryClient


@pytest.mark.daily
@pytest.mark.checklist(25, "morning.health")
@pytest.mark.severity("major")
def test_morning_health(request, target, check):
    """No critical alert firing (Alertmanager, or Prometheus' own alerts without one); the overnight Sentry errors listed."""
    source = target.alert_source()
    if source is None:
        pytest.skip(
            f"not configured: add an [alertmanager] section with url, or a [prometheus] section "
            f"(its /api/v1/alerts is read without Alertmanager), to {target.path}"
        )
    sentry = SentryClient(target.sentry) if target.sentry else None
    try:
        if source == "prometheus":
            reader = PrometheusAlerts(request.getfixturevalue("prom"))
        else:
            reader = AlertmanagerClient(target.alertmanager)
        with reader as am:
            result = alerts.morning_health(am, target.alert_settings(), sentry)
    finally:
        if sentry is not None:
            sentry.close()
    check.judge(result)


@pytest.mark.weekly
@pytest.mark.checklist(29, "alerts.tuning")
@pytest.mark.depends_on("prometheus")
@pytest.mark.severity("minor")
def test_alerts_tuning(prom, target, check):
    """Alerts that fired in the week listed (ALERTS series); flapping ones flagged."""
    check.judge(alerts.alerts_tuning(prom, target.alerts_review, time.time()))
