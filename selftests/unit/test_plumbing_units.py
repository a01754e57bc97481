"""Unit tests of the plumbing written once: the HTTP JSON client base, the named PromQL, the
record-folder reader and the statistics (each against what it replaced, or the standard library)."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import httpx
import pytest

from postdeploy.checks.baseline import snapshot_queries
from postdeploy.checks.firsthour import endpoint_queries
from postdeploy.checks.loadprobe import server_p50_query
from postdeploy.checks.metrics import Window, error_rate_queries
from postdeploy.core import stats
from postdeploy.core.errors import BadResponse, ConfigError, TargetTimeout, TargetUnreachable
from postdeploy.outputs.timeline import records
from postdeploy.run.pastruns import History, record_folders
from postdeploy.sources import promqueries
from postdeploy.sources.httpjson import JsonClient, verify_with


def client(handler, **kwargs) -> JsonClient:
    return JsonClient("Thing", timeout=2.0, transport=httpx.MockTransport(handler), **kwargs)


def raising(exc: Exception):
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    return handler


# -- the HTTP JSON client base ------------------------------------------------------------------


def test_every_failure_is_one_line_in_one_wording():
    url = "http://user:hunter2@127.0.0.1:9/api"
    with pytest.raises(TargetTimeout) as slow:
        client(raising(httpx.ReadTimeout("timed out"))).get(url)
    assert str(slow.value) == "Thing http://user:***@127.0.0.1:9/api: no answer within 2s"
    with pytest.raises(TargetUnreachable) as down:
        client(raising(httpx.ConnectError("refused, password=hunter2"))).get(url)
    assert str(down.value).startswith("Thing http://user:***@127.0.0.1:9/api: cannot connect: refused")
    assert "hunter2" not in str(down.value) and "\n" not in str(down.value)


def test_html_where_json_was_due_is_named_as_such():
    def html(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            502, text="<html>\n<body>Bad gateway</body></html>", headers={"content-type": "text/html"}
        )

    with pytest.raises(BadResponse) as bad:
        client(html, base_url="http://127.0.0.1:9").get_json("/api/x")
    assert str(bad.value) == (
        "Thing http://127.0.0.1:9/api/x answered 502 with text/html, not JSON: '<html> <body>Bad gateway</body></html>'"
    )


def test_a_secret_url_never_reaches_a_message():
    hook = "https://hooks.example.test/services/T000/B000/XXXXSECRET"
    with pytest.raises(TargetUnreachable) as down:
        client(raising(httpx.ConnectError(f"cannot reach {hook}")), secret_url=True).send("POST", hook)
    assert str(down.value) == "Thing: cannot connect: ConnectError" and down.value.target == "Thing"


def test_json_answers_keep_their_status_and_the_token_is_sent():
    seen = {}

    def answer(request: httpx.Request) -> httpx.Response:
        seen["auth"] = request.headers.get("authorization")
        return httpx.Response(404, json={"message": "not found"})

    from postdeploy.core.redaction import Secret

    got = client(answer, base_url="http://127.0.0.1:9/", token=Secret("t0ken", "test")).get_json("/a")
    assert (got.status, got.body, got.url) == (404, {"message": "not found"}, "http://127.0.0.1:9/a")
    assert seen["auth"] == "Bearer t0ken"


def test_a_ca_bundle_that_cannot_be_loaded_is_a_config_error(tmp_path: Path):
    assert verify_with("") is True
    bad = tmp_path / "ca.pem"
    bad.write_text("not a certificate")
    with pytest.raises(ConfigError, match=r"api.ca_bundle .*ca.pem: cannot load"):
        verify_with(str(bad), "api.ca_bundle")


# -- the named PromQL: what is sent did not change ----------------------------------------------


def test_named_queries_send_the_same_promql():
    sel = 'job="j"'
    assert snapshot_queries("j", 300, "1d", "endpoint") == {
        "requests": f"sum by (endpoint) (increase(http_requests_total{{{sel}}}[300s] offset 1d))",
        "5xx": f'sum by (endpoint) (increase(http_requests_total{{{sel},status=~"5.."}}[300s] offset 1d))',
        "unhandled": f"sum by (endpoint) (increase(errors_total{{{sel}}}[300s] offset 1d))",
        **{
            name: f"histogram_quantile({q}, sum by (le, endpoint) "
            f"(rate(http_request_duration_seconds_bucket{{{sel}}}[300s] offset 1d)))"
            for name, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99))
        },
    }
    assert endpoint_queries("j", 60)["p95"] == (
        f"histogram_quantile(0.95, sum by (le, endpoint) (rate(http_request_duration_seconds_bucket{{{sel}}}[60s])))"
    )
    assert server_p50_query("j", ["/a", "/b/"], 9.5) == (
        'histogram_quantile(0.5, sum by (le) (increase(http_request_duration_seconds_bucket{job="j",endpoint=~"/a|/b"}[10s])))'
    )
    assert error_rate_queries("j", Window(60, 1000.0))["5xx"] == (
        'sum(http_requests_total{job="j",status=~"5.."} and on(instance) (process_start_time_seconds{job="j"} >= 995))'
    )
    assert promqueries.cpu_rate("j", "[1m]") == 'sum by (instance) (rate(process_cpu_seconds_total{job="j"}[1m]))'
    assert promqueries.cpu_rate("j", "[1m]", by="") == 'rate(process_cpu_seconds_total{job="j"}[1m])'
    assert promqueries.db_connections("j") == 'sum(db_connections_active{job="j"})'


# -- the one reader of record folders ---------------------------------------------------------


def test_history_and_timeline_read_the_same_folders(tmp_path: Path):
    env = tmp_path / "local"
    for name, data in (
        ("20240101-000000", {"checks": [], "verdict": "success"}),
        ("20240102-000000", {"judged": False, "checks": []}),
    ):
        (env / name).mkdir(parents=True)
        (env / name / "record.json").write_text(json.dumps(data))
    (env / "20240103-000000").mkdir()  # killed before it wrote its record
    (env / "20240104-000000").mkdir()
    (env / "20240104-000000" / "record.json").write_text("{not json")
    (env / "latest").symlink_to(env / "20240101-000000")
    assert [f.name for f, _ in record_folders(env)] == ["20240101-000000", "20240102-000000"]
    assert [f.name for f, _ in History(env, current=env / "20240102-000000").records()] == ["20240101-000000"]
    assert [f.name for f, _ in records(env)] == ["20240101-000000"]  # the unjudged run is no part of the story
    assert list(record_folders(tmp_path / "nowhere")) == []


# -- the statistics ---------------------------------------------------------------------------


def test_fits_agree_with_the_standard_library():
    points = [(0.0, 1.0), (10.0, 3.5), (20.0, 4.0), (30.0, 8.0)]
    xs, ys = [t for t, _ in points], [v for _, v in points]
    k, _ = statistics.linear_regression(xs, ys)
    trend, line = stats.fit(points), stats.slope(points)
    assert trend is not None and line is not None
    assert trend.slope == pytest.approx(k) == line.per_second
    assert line.r2 == pytest.approx(statistics.correlation(xs, ys) ** 2)
