"""Monitoring setup, integrations, alerts and the load probe against canned answers.

Pure logic (percentiles, flapping count, rule comparison) and response parsing, including
HTML or garbage where JSON was due: every such answer is a one-line failure, never a traceback.
"""

from __future__ import annotations

import json
import statistics
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from postdeploy.checks import alerts, loadprobe, monitoring
from postdeploy.config import (
    Alertmanager,
    AlertsReview,
    Api,
    Fincra,
    Grafana,
    LoadProbe,
    Smtp,
    User,
    load_environment,
)
from postdeploy.core import stats
from postdeploy.core.errors import BadResponse, ConfigError
from postdeploy.core.redaction import Secret
from postdeploy.sources.alertmanager import AlertmanagerClient, parse_alerts
from postdeploy.sources.apiclient import ApiClient
from postdeploy.sources.grafana import DashboardMissing, GrafanaClient
from postdeploy.sources.integrationprobes import fincra_probe, parse_http_spec, smtp_probe
from postdeploy.sources.promql import Series

HTML = "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"


def mock(status: int, body: object = None, *, text: str | None = None) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        if text is not None:
            return httpx.Response(status, text=text, headers={"content-type": "text/html"})
        return httpx.Response(status, json=body)

    return httpx.MockTransport(handler)


# -- load probe ---------------------------------------------------------------------------


def test_percentile_interpolates_between_ranks():
    values = [0.01, 0.02, 0.03, 0.04, 0.05]
    assert stats.percentile(values, 50) == pytest.approx(0.03)
    assert stats.percentile(values, 0) == 0.01 and stats.percentile(values, 100) == 0.05
    assert stats.percentile(values, 95) == pytest.approx(0.048)
    with pytest.raises(ValueError):
        stats.percentile([], 50)


@given(st.lists(st.floats(0, 100, allow_nan=False), min_size=2, max_size=200))
def test_percentile_agrees_with_the_standard_library(values):
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    for q in (1, 50, 95, 99):
        assert stats.percentile(values, q) == pytest.approx(cuts[q - 1], abs=1e-9)


@given(st.lists(st.floats(0, 100, allow_nan=False), min_size=1, max_size=200), st.floats(0, 100), st.floats(0, 100))
def test_percentile_is_bounded_and_monotonic(values, q1, q2):
    low, high = sorted((q1, q2))
    p_low, p_high = stats.percentile(values, low), stats.percentile(values, high)
    assert min(values) <= p_low <= p_high + 1e-9 <= max(values) + 1e-9


@pytest.mark.parametrize(
    "entry, needle",
    [("POST /api/v1/projects", "only GET and HEAD"), ("DELETE /x", "only GET and HEAD"), ("GET", "not 'METHOD /path'")],
)
def test_write_endpoints_are_refused(entry, needle):
    with pytest.raises(ValueError, match=needle):
        loadprobe.parse_endpoints([entry])
    result = loadprobe.load_probe(None, LoadProbe(endpoints=["GET /ok", entry]))  # type: ignore[arg-type]
    assert result.outcome == "failed" and "refused" in result.summary


def test_bounds_are_hard_capped():
    count, conc, dur, notes = loadprobe.bounds(LoadProbe(count=10**6, concurrency=500, max_duration=3600))
    assert (count, conc, dur) == (loadprobe.HARD_MAX_COUNT, loadprobe.HARD_MAX_CONCURRENCY, loadprobe.HARD_MAX_DURATION)
    assert len(notes) == 3


def burst(latencies: list[float], errors: int = 0) -> loadprobe.Burst:
    return loadprobe.Burst(latencies, [f"GET /x: HTTP 500 #{i}" for i in range(errors)], len(latencies) + errors, 0, 1)


def test_judge_passes_fast_and_fails_slow_or_erroring():
    cfg = LoadProbe(endpoints=["GET /x"])
    assert loadprobe.judge(burst([0.01] * 50), cfg, {}).outcome == "passed"
    slow = loadprobe.judge(burst([0.3] * 50), cfg, {})
    assert slow.outcome == "failed" and "p50 300 ms is above 100 ms" in slow.summary
    tail = loadprobe.judge(burst([0.01] * 95 + [2.0] * 5), cfg, {})
    assert tail.outcome == "failed" and "p99" in tail.summary and "p50" not in tail.summary.split("(")[0]
    erring = loadprobe.judge(burst([0.01] * 50, errors=1), cfg, {})
    assert erring.outcome == "failed" and "1 error(s)" in erring.summary and "HTTP 500" in erring.message()


def test_judge_below_the_minimum_sample_is_inconclusive():
    result = loadprobe.judge(burst([0.01] * 5), LoadProbe(endpoints=["GET /x"], min_requests=20), {})
    assert result.outcome == "inconclusive" and "5 requests completed, need 20" in result.summary


def test_server_side_query_names_the_endpoints():
    q = loadprobe.server_p50_query("amani-backend", ["/api/v1/ping", "/api/v1/projects/"], 4.2)
    assert 'endpoint=~"/api/v1/ping|/api/v1/projects"' in q and "[5s]" in q and q.startswith("histogram_quantile(0.5")


# -- alerts -------------------------------------------------------------------------------


def test_firing_starts_counts_episodes():
    step = 60.0
    steady = [(t * step, 1.0) for t in range(10)]
    assert alerts.firing_starts(steady, step) == 1
    flapping = [(0, 1.0), (60, 1.0), (600, 1.0), (1200, 1.0), (1260, 1.0), (3000, 1.0)]
    assert alerts.firing_starts(flapping, step) == 4
    assert alerts.firing_starts([], step) == 0


@given(st.lists(st.integers(0, 500), max_size=100, unique=True))
def test_firing_starts_never_exceeds_points(ticks):
    points = [(t * 10.0, 1.0) for t in ticks]
    starts = alerts.firing_starts(points, 10.0)
    assert (starts == 0) == (not ticks) and starts <= len(ticks)


class FakeProm:
    def __init__(self, series: list[Series]) -> None:
        self.series = series

    def query_range(self, expr: str, start: float, end: float, step: float) -> list[Series]:
        assert expr == 'ALERTS{alertstate="firing"}' and (end - start) / step <= alerts.MAX_POINTS
        return self.series


def test_alerts_tuning_flags_flapping_and_lists_the_rest():
    step = 60.0
    flappy = Series({"alertname": "HighCPUUsage"}, [(i * 600.0, 1.0) for i in range(8)])
    steady = Series({"alertname": "DiskSpaceLow"}, [(i * step, 1.0) for i in range(30)])
    review = AlertsReview(window=7 * 86400, step=step, flapping_bound=5)
    result = alerts.alerts_tuning(FakeProm([flappy, steady]), review, 1e9)  # type: ignore[arg-type]
    assert result.outcome == "failed" and "HighCPUUsage (8 times)" in result.summary
    assert result.evidence["fired DiskSpaceLow"] == "1 time(s)"
    calm = alerts.alerts_tuning(FakeProm([steady]), review, 1e9)  # type: ignore[arg-type]
    assert calm.outcome == "passed" and "DiskSpaceLow" in calm.summary
    none = alerts.alerts_tuning(FakeProm([]), review, 1e9)  # type: ignore[arg-type]
    assert none.outcome == "passed" and "no alert fired in 168h" in none.summary


AM_ALERT = {
    "labels": {"alertname": "HighErrorRate", "severity": "critical", "job": "amani-backend"},
    "annotations": {"summary": "High error rate on amani-backend"},
    "startsAt": "2026-11-27T02:14:05.123456789Z",
    "endsAt": "2026-11-27T02:20:05.123Z",
    "fingerprint": "81533059a2f69483",
    "status": {"state": "active", "silencedBy": [], "inhibitedBy": []},
    "receivers": [{"name": "oncall"}],
}


def test_parse_alerts_reads_alertmanager_v2():
    (alert,) = parse_alerts([AM_ALERT], "am")
    assert alert.name == "HighErrorRate" and alert.severity == "critical"
    assert alert.starts_at == datetime(2026, 11, 27, 2, 14, 5, 123456, tzinfo=UTC)
    assert "HighErrorRate [critical] active since 2026-11-27 02:14:05 UTC" in repr(alert)


@pytest.mark.parametrize("payload", [{"status": "error"}, [{"labels": {}}], ["x"], "text"])
def test_parse_alerts_rejects_other_shapes(payload):
    with pytest.raises(BadResponse):
        parse_alerts(payload, "am")


def am_client(transport: httpx.MockTransport) -> AlertmanagerClient:
    return AlertmanagerClient(Alertmanager(url="http://am.test"), transport=transport)


def test_morning_health_fails_on_a_critical_alert_only():
    cfg = Alertmanager(url="http://am.test")
    warning = {**AM_ALERT, "labels": {"alertname": "HighCPUUsage", "severity": "warning"}}
    result = alerts.morning_health(am_client(mock(200, [AM_ALERT, warning])), cfg, None)
    assert result.outcome == "failed" and "1 critical alert(s) firing in Alertmanager: HighErrorRate" in result.summary
    assert "HighCPUUsage" in result.evidence["other 1"]
    calm = alerts.morning_health(am_client(mock(200, [warning])), cfg, None)
    assert calm.outcome == "passed" and "not configured" in calm.evidence["sentry"]


def test_morning_health_html_instead_of_json_is_one_clear_line():
    result = alerts.morning_health(am_client(mock(502, text=HTML)), Alertmanager(url="http://am.test"), None)
    assert result.outcome == "failed" and "answered 502 with text/html, not JSON" in result.summary
    assert "\n" not in result.summary


# -- monitoring ---------------------------------------------------------------------------


def test_rule_report_finds_missing_and_unhealthy_rules():
    groups = [
        {
            "name": "g",
            "rules": [
                {"type": "alerting", "name": "HighErrorRate", "health": "ok"},
                {"type": "alerting", "name": "ApplicationDown", "health": "err", "lastError": "bad expr"},
                {"type": "recording", "name": "DiskSpaceLow", "health": "ok"},
            ],
        }
    ]
    report = monitoring.rule_report(groups, ["HighErrorRate", "ApplicationDown", "DiskSpaceLow"])
    assert report.missing == ["DiskSpaceLow"]  # a recording rule of that name is not the alert
    assert report.unhealthy == ["ApplicationDown (health err: bad expr)"]
    assert report.loaded == ["HighErrorRate", "ApplicationDown"]


def grafana(transport: httpx.MockTransport) -> GrafanaClient:
    return GrafanaClient(Grafana(url="http://grafana.test", token=Secret("glsa_token_123", "t")), transport)


def test_grafana_dashboard_found_missing_refused_or_garbage():
    body = {"dashboard": {"uid": "abc", "title": "Overview"}, "meta": {"url": "/d/abc/overview"}}
    dash = grafana(mock(200, body)).dashboard("abc")
    assert dash.title == "Overview" and dash.url == "http://grafana.test/d/abc/overview"
    with pytest.raises(DashboardMissing, match="404 Dashboard not found"):
        grafana(mock(404, {"message": "Dashboard not found"})).dashboard("abc")
    with pytest.raises(Exception, match="refused the token .*Invalid API key"):
        grafana(mock(401, {"message": "Invalid API key"})).dashboard("abc")
    with pytest.raises(BadResponse, match="not JSON"):
        grafana(mock(200, text=HTML)).dashboard("abc")
    with pytest.raises(BadResponse, match="without the dashboard"):
        grafana(mock(200, {"unexpected": True})).dashboard("abc")


# -- integrations -------------------------------------------------------------------------

FINCRA = Fincra(url="http://fincra.test", api_key=Secret("sk_live_fincra_secret", "t"))


def test_fincra_ok_refused_down_and_garbage():
    ok = {"success": True, "message": "ok", "data": {"id": "62c7", "name": "Amani Escrow Ltd"}}
    assert fincra_probe(FINCRA, mock(200, ok)).ok
    refused = fincra_probe(FINCRA, mock(401, {"message": "Invalid authentication credentials"}))
    assert not refused.ok and "refused the api-key (HTTP 401: Invalid authentication credentials)" in refused.detail
    down = fincra_probe(FINCRA, mock(503, text=HTML))
    assert not down.ok and "503 with text/html, not JSON" in down.detail
    odd = fincra_probe(FINCRA, mock(200, {"status": "ok"}))
    assert not odd.ok and "without FinCra's envelope" in odd.detail
    for probe in (refused, down, odd):
        assert "sk_live_fincra_secret" not in repr(probe)


def test_smtp_refused_connection_is_one_line():
    probe = smtp_probe(Smtp(host="127.0.0.1:1", starttls=False, timeout=2))
    assert not probe.ok and "SMTP 127.0.0.1:1: cannot connect" in probe.detail


def test_smtp_address_and_http_specs():
    assert Smtp(host="mail.example.com").address() == ("mail.example.com", 587)
    assert Smtp(host="127.0.0.1:2525").address() == ("127.0.0.1", 2525)
    assert parse_http_spec("https://api.x/health") == ("https://api.x/health", None)
    assert parse_http_spec("https://api.x/v1 expect=401") == ("https://api.x/v1", 401)
    with pytest.raises(ConfigError):
        parse_http_spec("https://api.x/v1 method=POST")


def test_the_sections_load_and_hide_their_secrets(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("GRAFANA_TOKEN", "glsa_secret_value")
    monkeypatch.setenv("FINCRA_KEY", "sk_fincra_secret_value")
    folder = tmp_path / "environments"
    folder.mkdir()
    (folder / "t.toml").write_text(
        """
[api]
base_url = "http://127.0.0.1:1"
[grafana]
url = "http://grafana.test"
token_env = "GRAFANA_TOKEN"
dashboards = ["abc"]
[alertmanager]
url = "http://am.test"
[integrations.fincra]
url = "http://fincra.test"
api_key_env = "FINCRA_KEY"
[load_probe]
endpoints = ["GET /api/v1/ping"]
"""
    )
    env = load_environment("t", tmp_path)
    assert env.grafana and env.grafana.dashboards == ["abc"] and env.load_probe and env.load_probe.count == 100
    assert env.monitoring.expected_rules[0] == "HighErrorRate" and len(env.monitoring.expected_rules) == 10
    text = repr(env)
    assert "glsa_secret_value" not in text and "sk_fincra_secret_value" not in text
    (folder / "t.toml").write_text('[api]\nbase_url = "http://x"\n[grafana]\nurl = "http://g"\ntoken = "inline"\n')
    with pytest.raises(ConfigError, match="secrets are not values in the file"):
        load_environment("t", tmp_path)


def test_monitoring_ready_without_any_part_is_skipped(tmp_path: Path):
    folder = tmp_path / "environments"
    folder.mkdir()
    (folder / "t.toml").write_text('[api]\nbase_url = "http://127.0.0.1:1"\n')
    result = monitoring.monitoring_ready(load_environment("t", tmp_path))
    assert result.outcome == "skipped" and "[grafana]" in result.summary and "[prometheus]" in result.summary
    json.dumps(result.evidence)


# -- bad input and the probe's own behaviour ------------------------------------------------


def test_unreachable_alertmanager_is_one_line():
    cfg = Alertmanager(url="http://127.0.0.1:1", timeout=2)
    with AlertmanagerClient(cfg) as am:
        result = alerts.morning_health(am, cfg, None)
    assert result.outcome == "failed" and "cannot connect" in result.summary and "\n" not in result.summary


def _api(handler) -> ApiClient:
    cfg = Api(base_url="https://api.test", user=User("probe@amani.test", Secret("probe-password-123", "t")))
    return ApiClient(cfg, transport=httpx.MockTransport(handler))


def test_load_probe_logs_in_once_and_sends_only_reads():
    seen: list[tuple[str, str, str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((request.method, request.url.path, request.headers.get("authorization", "")))
        if request.url.path == "/api/v1/auth/login":
            return httpx.Response(200, json={"access_token": "tok-abcdef-123", "token_type": "bearer"})
        return httpx.Response(200, json={"ok": True})

    api = _api(handler)
    cfg = LoadProbe(endpoints=["GET /a", "HEAD /b"], count=40, concurrency=8, max_duration=10, auth=True)
    result = loadprobe.load_probe(api, cfg)
    assert result.outcome == "passed", result.message()
    assert api.logins_made == 1
    reads = [s for s in seen if s[1] != "/api/v1/auth/login"]
    assert {m for m, _, _ in reads} == {"GET", "HEAD"} and all(a == "Bearer tok-abcdef-123" for _, _, a in reads)
    # 8 untimed warm-up requests open the pool's connections; the 40 timed ones follow.
    assert len(reads) == 40 + 8 and result.value["errors"] == 0


def test_load_probe_against_a_failing_target_counts_errors():
    api = _api(lambda request: httpx.Response(503, text="<html>down</html>"))
    result = loadprobe.load_probe(api, LoadProbe(endpoints=["GET /a"], count=10, concurrency=2))
    assert result.outcome == "failed" and "10 error(s) (allowed 0)" in result.summary
    assert "HTTP 503" in result.message()
