"""The record as people use it, without a sandbox: timeline, budget, charts, exports' payloads."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from grafana_recorder import check_annotation_request, recording
from postdeploy import cli
from postdeploy.config import Budget, Grafana, GrafanaAnnotation, Pushgateway, Slack, load_environment
from postdeploy.core.errors import TargetError
from postdeploy.core.redaction import Secret, redact
from postdeploy.outputs import annotation, charts, pushgateway, timeline
from postdeploy.run import budget
from postdeploy.run.verdict import final_verdict
from postdeploy.sources import slack
from sandbox.standins.slack import BOT, TEAM, SlackServer


def record(phase: str, start: str, verdict: str = "success", version: str = "1.4.2", commit: str = "abc1234def567"):
    checks = [{"id": "health", "outcome": "passed", "severity": "critical", "summary": "healthy"}]
    if verdict != "success":
        checks.append(
            {"id": "error_rate", "outcome": "failed", "severity": "major", "summary": "error rate 4.00% is above 1.0%"}
        )
    return {
        "env": "prod",
        "phase": phase,
        "version": version,
        "commit": commit,
        "start": start,
        "end": start,
        "duration_s": 3.2,
        "who": "ci@runner",
        "verdict": verdict,
        "verdict_reasons": [],
        "api_requests": 12,
        "budget": {"phase": phase, "limit": 200, "sent": 12, "exceeded": False},
        "counts": {"passed": len(checks)},
        "deployed_at": "2026-11-27T01:00:00+00:00",
        "checks": checks,
    }


def put(env_dir: Path, folder: str, data: dict[str, Any]) -> None:
    (env_dir / folder).mkdir(parents=True)
    (env_dir / folder / "record.json").write_text(json.dumps(data))


@pytest.fixture
def env_dir(tmp_path: Path) -> Path:
    d = tmp_path / "reports" / "prod"
    put(d, "20261127T010100Z-pre_deploy", record("pre_deploy", "2026-11-27T00:58:00+00:00"))
    put(d, "20261127T011500Z-first15", record("first15", "2026-11-27T01:15:00+00:00"))
    put(d, "20261127T020000Z-first_hour", record("first_hour", "2026-11-27T02:00:00+00:00", "issues"))
    put(d, "20261127T050000Z-first_24h", record("first_24h", "2026-11-27T05:00:00+00:00"))
    # Another version, and a killed run without a record: neither belongs on the page.
    put(d, "20261120T010000Z-first15", record("first15", "2026-11-20T01:00:00+00:00", version="1.4.1"))
    (d / "20261127T060000Z-daily").mkdir()
    return d


def test_timeline_gathers_every_phase_of_one_deployment(env_dir: Path):
    path = timeline.write(env_dir, "1.4.2")
    assert path == env_dir / "1.4.2" / "timeline.html"
    page = path.read_text()
    rows = re.findall(r"<tr><td>([a-z_0-9]+)</td>", page)
    assert rows == ["pre_deploy", "first15", "first_hour", "first_24h"]  # the guide's order, 1.4.1 left out
    assert "ISSUES" in page and "error_rate" in page and "error rate 4.00% is above 1.0%" in page
    assert 'href="../20261127T020000Z-first_hour/report.html"' in page and "record.md" in page
    assert "12 / 200" in page and "Phases not run yet: daily, weekly" in page
    assert "Deployed at: <b>2026-11-27T01:00:00+00:00</b>" in page
    assert "2026-11-27 02:00:00<br><small>deploy +1h00m, 3.2 s" in page and "deploy -2m00s" in page
    assert "<script" not in page and "http://" not in page and "https://" not in page  # self-contained


def test_timeline_separates_commits_of_one_version(env_dir: Path):
    put(env_dir, "20261127T070000Z-first15", record("first15", "2026-11-27T07:00:00+00:00", commit="fff0000aaaa11"))
    page = timeline.write(env_dir, "1.4.2").read_text()
    assert page.index("fff0000aaaa1") < page.index("abc1234def56")  # the newest deployment first


def test_timeline_cli(env_dir: Path, capsys: pytest.CaptureFixture[str]):
    reports = env_dir.parent
    assert cli.main(["timeline", "--reports", str(reports), "--env", "prod", "--version", "1.4.2"]) == 0
    assert "4 run(s)" in capsys.readouterr().out
    assert cli.main(["timeline", str(env_dir / "20261120T010000Z-first15")]) == 0
    assert (env_dir / "1.4.1" / "timeline.html").is_file()
    assert cli.main(["timeline", "--reports", str(reports / "none")]) == cli.NO_RECORD


def test_budget_exceeded_is_an_issue_within_is_not():
    use = budget.usage("first15", 201, Budget())
    assert use == {"phase": "first15", "limit": 200, "sent": 201, "exceeded": True}
    decided = final_verdict([], budget=use)
    assert decided.verdict == "issues"
    assert "request budget exceeded: 201 API requests sent in phase first15, budget 200" in decided.reasons[0]
    assert "EXCEEDED" in budget.line({"budget": use})
    ok = budget.usage("custom", 5, Budget(other=5))
    assert final_verdict([], budget=ok).verdict == "success" and ok["limit"] == 5
    critical = {"id": "x", "outcome": "failed", "severity": "critical"}
    worse = final_verdict([critical], budget=budget.usage("daily", 9, Budget(daily=1)))
    assert worse.verdict == "rollback"  # a budget never lowers a verdict


def test_budget_keys_come_from_the_environment_file(tmp_path: Path):
    (tmp_path / "environments").mkdir()
    (tmp_path / "environments" / "t.toml").write_text('[api]\nbase_url = "http://x"\n[budget]\nfirst15 = 7\n')
    assert load_environment("t", tmp_path).budget.of("first15") == 7


def test_chart_has_series_threshold_and_deploy_marker():
    span = charts.span_for(now=1000.0, deployed_at=990.0, window=30.0, rate_window=5.0, points=120)
    assert span.start == 970.0 and span.end == 1000.0 and span.step == 1.0  # 20 s before the deploy
    odd = charts.span_for(now=5000.0, deployed_at=3651.3, window=30.0, rate_window=5.0, points=120)
    assert odd.step == 12.0 and odd.rate_window == 24.0  # whole seconds: Prometheus rejects "11.24s"
    svg = charts.svg_chart("p95", [(995.0, 0.1), (1000.0, 0.2)], span, 990.0, 0.5, "{:.0f} ms", 1000.0)
    assert svg.startswith("<svg") and 'class="deploy-marker"' in svg and "deploy 00:16:30" in svg
    assert "threshold 500 ms" in svg and "<polyline" in svg
    judged = charts.svg_chart("p95", [], span, 990.0, 0.5, "{:.0f} ms", 1000.0, judged=10.0)
    assert 'class="judged-window"' in judged and "judged-window" not in svg
    empty = charts.svg_chart("p95", [], span, None, 0.5, "{:.0f} ms", 1000.0)
    assert "no data in this span" in empty and "deploy-marker" not in empty


def test_chart_queries_are_the_checks_queries_in_range_form():
    asked: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        query = request.url.params["query"]
        asked.append(request.url.path + " " + query)
        n = 10 if "5.." in query else 5 if "errors_total" in query else 95
        matrix = [{"metric": {}, "values": [[995, str(n)], [1000, str(2 * n)]]}]
        return httpx.Response(200, json={"status": "success", "data": {"resultType": "matrix", "result": matrix}})

    from postdeploy.config import Prometheus
    from postdeploy.sources.promql import PromClient

    prom = PromClient(Prometheus(url="http://prom.test", job="api"), transport=httpx.MockTransport(handler))
    span = charts.span_for(1000.0, 990.0, 30.0, 5.0, 120)
    points, queries = charts.error_rate_series(prom, "api", span)
    assert all(a.startswith("/api/v1/query_range") for a in asked)
    assert 'sum(increase(http_requests_total{job="api",status=~"5.."}[5s]))' in queries.values()
    assert points == [(995.0, 0.15), (1000.0, 0.15)]  # (5xx + unhandled) / (requests + unhandled)


def test_pushgateway_exposition_and_verdict_encoding():
    data = record("first15", "2026-11-27T01:15:00+00:00", "issues")
    data["checks"].append({"id": "notify.team", "outcome": "skipped", "severity": "minor"})
    text = pushgateway.exposition(data)
    assert 'postdeploy_check_passed{check="health",severity="critical"} 1' in text
    assert 'postdeploy_check_passed{check="error_rate",severity="major"} 0' in text
    assert "notify.team" not in text  # a skipped check measured nothing
    assert "postdeploy_verdict 1\n" in text and "postdeploy_run_timestamp_seconds 1795742100.000" in text
    cfg = Pushgateway(url="http://pg.test", job="postdeploy")
    assert pushgateway.group_path(cfg, "prod", "first15") == "/metrics/job/postdeploy/env/prod/phase/first15"


@pytest.fixture
def grafana_standin():
    with recording() as standin:
        yield standin


def test_grafana_annotation_has_the_documented_shape(grafana_standin):
    url, seen = grafana_standin
    cfg = Grafana(url=url, token=Secret("glsa_unit_token_123", "$T"))
    pin = GrafanaAnnotation(dashboard_uid="amani")
    data = record("first15", "2026-11-27T01:15:00+00:00", "issues")
    when = datetime(2026, 11, 27, 1, 0, tzinfo=UTC)
    assert annotation.annotate(cfg, pin, data, when) == f"annotation 42 added in Grafana {url}"
    body = check_annotation_request(seen[0], "glsa_unit_token_123", int(when.timestamp() * 1000))
    assert body["dashboardUID"] == "amani" and "panelId" not in body
    assert "verdict:issues" in body["tags"] and "ISSUES" in body["text"]
    organisation = annotation.body(GrafanaAnnotation(), data, None)
    assert organisation["time"] == int(datetime.fromisoformat(data["start"]).timestamp() * 1000)


def test_grafana_errors_name_grafana_without_the_token():
    cfg = Grafana(url="http://127.0.0.1:9", token=Secret("glsa_secret_never_shown", "$T"), timeout=1.0)
    with pytest.raises(TargetError, match="Grafana http://127.0.0.1:9/api/annotations") as info:
        annotation.annotate(cfg, GrafanaAnnotation(), record("first15", "2026-11-27T01:15:00+00:00"), None)
    assert "glsa_secret_never_shown" not in str(info.value)


@pytest.fixture
def slack_standin():
    server = SlackServer()
    server.start(0)
    yield server
    server.stop()


def test_slack_client_against_the_standin(slack_standin: SlackServer):
    good = Slack(webhook=Secret(slack_standin.webhook_url, "$HOOK"))
    slack.post(good, {"text": "hello"})
    assert slack_standin.messages() == [{"text": "hello"}]
    bad_token = Slack(webhook=Secret(f"{slack_standin.url}/services/{TEAM}/{BOT}/wrong-token-0", "$HOOK"))
    with pytest.raises(TargetError, match="403 'invalid_token'"):
        slack.post(bad_token, {"text": "x"})
    no_hook = Slack(webhook=Secret(f"{slack_standin.url}/services/nothing", "$HOOK"))
    with pytest.raises(TargetError, match="404 'no_service': the webhook URL is wrong"):
        slack.post(no_hook, {"text": "x"})
    with pytest.raises(TargetError, match="400 'no_text'"):
        slack.post(good, {"attachments": []})
    slack_standin.down = True
    with pytest.raises(TargetError, match="500") as info:
        slack.post(good, {"text": "x"})
    assert slack_standin.token not in str(info.value) and slack_standin.url not in str(info.value)


def test_slack_standin_rejects_a_body_that_is_not_json(slack_standin: SlackServer):
    resp = httpx.post(slack_standin.webhook_url, content=b"payload=not-json", timeout=5)
    assert (resp.status_code, resp.text) == (400, "invalid_payload")


def test_slack_verdict_message_says_verdict_reasons_and_report():
    data = record("first15", "2026-11-27T01:15:00+00:00", "rollback")
    data["verdict_reasons"] = ["critical check health failed"]
    text = slack.verdict_message(data, "reports/prod/x/report.html")["text"]
    assert "*ROLLBACK*" in text and "critical check health failed" in text and "reports/prod/x/report.html" in text
    assert redact(text) == text


def test_charts_say_why_when_prometheus_cannot_be_asked(tmp_path: Path):
    (tmp_path / "environments").mkdir()
    (tmp_path / "environments" / "t.toml").write_text(
        '[api]\nbase_url = "http://x"\n[prometheus]\nurl = "http://127.0.0.1:9"\njob = "api"\ntimeout = "1s"\n'
    )
    env = load_environment("t", tmp_path)
    out = charts.render(env, 1000.0, None, 30.0)
    assert out.startswith('<p class="postdeploy-charts">Charts unavailable: Prometheus http://127.0.0.1:9')
    assert "cannot connect" in out


def test_slack_verdict_links_the_published_report(slack_standin: SlackServer, tmp_path: Path):
    from postdeploy.config import Api, Environment
    from postdeploy.pytestplugin import finish

    cfg = Slack(webhook=Secret(slack_standin.webhook_url, "$HOOK"), report_url="https://ci.example/artifacts/reports/")
    env = Environment(name="prod", path="prod.toml", api=Api(base_url="http://x"), slack=cfg)
    run_dir = tmp_path / "prod" / "20261127T011500Z-first15"
    done = finish.exports(env, record("first15", "2026-11-27T01:15:00+00:00"), run_dir, None, enabled=True)
    assert done == {"slack": "verdict posted to the Slack webhook"}
    text = slack_standin.messages()[-1]["text"]
    assert text.endswith("Report: https://ci.example/artifacts/reports/prod/20261127T011500Z-first15/report.html")
    assert finish.exports(env, {}, run_dir, None, enabled=False) == {"all": "off (--no-exports)"}
