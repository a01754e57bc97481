"""Alerts without Alertmanager: morning.health reads Prometheus' /api/v1/alerts; alerts that never stop.

Units for the parsing, the choice of source and the always-firing rule; one end-to-end run on a
sandbox started with `--no-alertmanager` (a sandbox of its own, ~10 s) with the `alert_firing`
fault on: daily's morning.health must fail naming the alert, read from Prometheus.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from postdeploy.checks import alerts
from postdeploy.config import AlertsReview, Prometheus, load_environment
from postdeploy.core.errors import BadResponse, ConfigError
from postdeploy.sources.alertmanager import PrometheusAlerts, parse_prometheus_alerts
from postdeploy.sources.promql import PromClient, Series
from sandboxrun import Sandbox, start

PROM_ALERTS = {
    "status": "success",
    "data": {
        "alerts": [
            {
                "labels": {"alertname": "DatabaseConnectionIssues", "severity": "critical"},
                "annotations": {"summary": "Database connection issues"},
                "state": "firing",
                "activeAt": "2026-11-20T03:00:00.5Z",
                "value": "1e+00",
            },
            {
                "labels": {"alertname": "HighErrorRate", "severity": "critical"},
                "annotations": {},
                "state": "pending",
                "activeAt": "2026-11-27T03:00:00Z",
                "value": "1e+00",
            },
            {"labels": {"alertname": "HighCPUUsage", "severity": "warning"}, "state": "firing", "activeAt": ""},
        ]
    },
}


def prom_client(payload: Any, status: int = 200) -> PromClient:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/api/v1/alerts"
        return httpx.Response(status, json=payload)

    return PromClient(Prometheus(url="http://prom.test", job="amani"), transport=httpx.MockTransport(handler))


def test_prometheus_alerts_keep_only_the_firing_ones():
    firing = parse_prometheus_alerts(PROM_ALERTS["data"]["alerts"], "p")
    assert [a.name for a in firing] == ["DatabaseConnectionIssues", "HighCPUUsage"]
    assert firing[0].starts_at == datetime(2026, 11, 20, 3, 0, 0, 500000, tzinfo=UTC)
    with pytest.raises(BadResponse):
        parse_prometheus_alerts([{"labels": {}}], "p")


def test_morning_health_from_prometheus_names_the_critical_alert(tmp_path: Path):
    env = load(tmp_path, "")
    with PrometheusAlerts(prom_client(PROM_ALERTS)) as source:
        result = alerts.morning_health(source, env.alert_settings(), None)
    assert result.outcome == "failed"
    assert "1 critical alert(s) firing in Prometheus: DatabaseConnectionIssues" in result.summary
    assert result.evidence["prometheus"] == "http://prom.test/api/v1/alerts"
    calm = {"status": "success", "data": {"alerts": PROM_ALERTS["data"]["alerts"][1:]}}
    with PrometheusAlerts(prom_client(calm)) as source:
        assert alerts.morning_health(source, env.alert_settings(), None).outcome == "passed"
    with PrometheusAlerts(prom_client({"status": "error", "error": "boom"}, 500)) as source:
        broken = alerts.morning_health(source, env.alert_settings(), None)
    assert broken.outcome == "failed" and "cannot read the firing alerts" in broken.summary


BASE = """
[api]
base_url = "http://127.0.0.1:1"
[prometheus]
url = "http://prom.test"
job = "amani"
"""


def load(root: Path, extra: str, state: dict[str, Any] | None = None):
    folder = root / "environments"
    folder.mkdir(exist_ok=True)
    head = ""
    if state is not None:
        (root / "state.json").write_text(json.dumps(state))
        head = f'state_file = "{root / "state.json"}"\n'
    (folder / "t.toml").write_text(head + BASE + extra)
    return load_environment("t", root)


def test_the_alert_source_follows_the_file(tmp_path: Path):
    assert load(tmp_path, "").alert_source() == "prometheus"
    am = '\n[alertmanager]\nurl = "http://am.test"\ncritical_severities = ["page"]\n'
    assert load(tmp_path, am).alert_source() == "alertmanager"
    forced = load(tmp_path, am + '[alerts]\nsource = "prometheus"\n')
    assert forced.alert_source() == "prometheus"
    assert forced.alert_settings().url == "http://prom.test"
    assert forced.alert_settings().critical_severities == ["page"]
    own = load(tmp_path, '[alerts]\ncritical_severities = ["critical", "page"]\n')
    assert own.alert_settings().critical_severities == ["critical", "page"]
    with pytest.raises(ConfigError, match="alerts: source must be one of"):
        load(tmp_path, '[alerts]\nsource = "pagerduty"\n')


def test_local_env_reads_the_sandbox_without_alertmanager(tmp_path: Path):
    """`${state:key:-default}`: the sandbox leaves alertmanager_url null without its Alertmanager."""
    extra = '[alertmanager]\nurl = "${state:alertmanager_url:-}"\n[alerts]\nsource = "${state:alerts_source:-auto}"\n'
    without = load(tmp_path, extra, {"alertmanager_url": None, "alerts_source": "prometheus"})
    assert without.alert_source() == "prometheus" and "alertmanager" not in without.targets()
    with_am = load(tmp_path, extra, {"alertmanager_url": "http://127.0.0.1:9", "alerts_source": "alertmanager"})
    assert with_am.alert_source() == "alertmanager"


# -- alerts.tuning: an alert that never stops ---------------------------------------------------
class FakeProm:
    def __init__(self, series: list[Series], firing: list[dict[str, Any]] | None = None) -> None:
        self.series, self.firing = series, firing or []

    def query_range(self, expr: str, start: float, end: float, step: float) -> list[Series]:
        return self.series

    def alerts(self) -> list[dict[str, Any]]:
        return self.firing


def test_always_firing_needs_the_whole_window():
    now, window, step = 1_000_000.0, 7 * 86400.0, 60.0
    grid = [now - window + i * step for i in range(int(window / step) + 1)]
    review = AlertsReview(window=window, step=step)  # type: ignore[arg-type]
    always = Series({"alertname": "DatabaseConnectionIssues"}, [(t, 1.0) for t in grid])
    # Firing 6 of the 7 days, then resolved: a long incident, not "always".
    long = Series({"alertname": "DiskSpaceLow"}, [(t, 1.0) for t in grid if t < now - 86400])
    result = alerts.alerts_tuning(FakeProm([always, long]), review, now)  # type: ignore[arg-type]
    assert result.outcome == "failed"
    assert "DatabaseConnectionIssues always firing since 1970-01-05 " in result.summary
    assert "or earlier" in result.summary and "DiskSpaceLow" not in result.summary
    live = [{**PROM_ALERTS["data"]["alerts"][0], "activeAt": "1970-01-03T08:00:00Z"}]
    named = alerts.alerts_tuning(FakeProm([always], live), review, now)  # type: ignore[arg-type]
    # Still firing now: Prometheus' activeAt says when it began, before the window.
    assert "DatabaseConnectionIssues always firing since 1970-01-03 08:00 UTC" in named.summary
    assert "or earlier" not in named.summary
    calm = alerts.alerts_tuning(FakeProm([long]), review, now)  # type: ignore[arg-type]
    assert calm.outcome == "passed" and "DiskSpaceLow" in calm.summary


# -- end to end: a sandbox without Alertmanager ------------------------------------------------
@pytest.fixture(scope="module")
def bare_box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    sandbox = start(tmp_path_factory.mktemp("bare-sandbox"), "--no-alertmanager")
    yield sandbox
    sandbox.cli("down")


def test_without_alertmanager_morning_health_reads_prometheus(bare_box: Sandbox, tmp_path: Path):
    st = bare_box.state()
    assert st["alerts_source"] == "prometheus" and st["alertmanager_url"] is None
    status = bare_box.cli("status")
    assert "off (--no-alertmanager)" in status.stdout
    proc = bare_box.cli("fault", "alert_firing")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    run = bare_box.run_suite(tmp_path, "tests_metrics/test_daily_alerts.py", marks="daily")
    check = run.check("morning.health")
    assert check["outcome"] == "failed", run.output[-3000:]
    assert "critical alert(s) firing in Prometheus: SandboxCriticalAlert" in check["summary"], check["summary"]
    assert "/api/v1/alerts" in run.text("morning.health")
    healed = bare_box.cli("heal", timeout=120)
    assert healed.returncode == 0, healed.stdout + healed.stderr
    calm = bare_box.run_suite(tmp_path / "healed", "tests_metrics/test_daily_alerts.py", marks="daily")
    assert calm.check("morning.health")["outcome"] == "passed", calm.text("morning.health")
