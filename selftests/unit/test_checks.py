"""Check functions against canned answers: thresholds, escalation, minimum samples, evidence."""

from __future__ import annotations

import httpx
import pytest

from postdeploy.checks import metrics, smoke
from postdeploy.config import Api, Expected, Prometheus, Thresholds
from postdeploy.sources.apiclient import ApiClient
from postdeploy.sources.promql import PromClient

TH = Thresholds(min_requests=50)


def prom_answering(values: dict[str, float | None]) -> PromClient:
    """A Prometheus that answers each query by the first key contained in it."""

    def handler(request: httpx.Request) -> httpx.Response:
        query = request.url.params["query"]
        key = next(k for k in values if k in query)
        value = values[key]
        result = [] if value is None else [{"metric": {}, "value": [1.0, str(value)]}]
        return httpx.Response(200, json={"status": "success", "data": {"resultType": "vector", "result": result}})

    return PromClient(Prometheus(url="http://prom.test", job="amani-backend"), transport=httpx.MockTransport(handler))


def error_rate(requests, e5, unhandled):
    prom = prom_answering({'status=~"5.."': e5, "errors_total": unhandled, "http_requests_total": requests})
    return metrics.error_rate(prom, "amani-backend", metrics.Window(300), TH)


def test_error_rate_below_threshold_passes_with_evidence():
    r = error_rate(1000, 5, 0)
    assert r.outcome == "passed" and r.value == 0.005
    assert "http_requests_total" in r.evidence["query requests"] and r.evidence["window"] == "300s"


def test_error_rate_above_one_percent_is_major():
    r = error_rate(1000, 20, 0)
    assert r.outcome == "failed" and r.severity is None and "2.00%" in r.summary


def test_error_rate_above_ten_percent_escalates_to_critical():
    r = error_rate(1000, 50, 100)
    assert r.outcome == "failed" and r.severity == "critical" and "rollback bound" in r.summary


def test_unhandled_exceptions_alone_fail_the_error_rate():
    # The database refuses: every request raises, http_requests_total barely moves.
    r = error_rate(100, None, 400)
    assert r.outcome == "failed" and r.severity == "critical"


@pytest.mark.parametrize(("requests", "word"), [(None, "no data"), (12, "inconclusive: 12 requests")])
def test_no_data_and_small_samples_are_inconclusive(requests, word):
    r = error_rate(requests, 0, 0)
    assert r.outcome == "inconclusive" and word in r.summary


def test_latency_p95():
    slow = metrics.latency_p95(prom_answering({"histogram_quantile": 0.9, "_count": 500}), "j", metrics.Window(60), TH)
    assert slow.outcome == "failed" and "900 ms" in slow.summary
    fast = metrics.latency_p95(prom_answering({"histogram_quantile": 0.05, "_count": 500}), "j", metrics.Window(60), TH)
    assert fast.outcome == "passed"
    nan = metrics.latency_p95(
        prom_answering({"histogram_quantile": float("nan"), "_count": 500}), "j", metrics.Window(60), TH
    )
    assert nan.outcome == "inconclusive"


def api_answering(routes: dict[str, httpx.Response]) -> ApiClient:
    return ApiClient(Api(base_url="http://api.test"), transport=httpx.MockTransport(lambda req: routes[req.url.path]))


def test_health_200_with_unhealthy_body_fails():
    body = {
        "status": "unhealthy",
        "checks": {
            "database": {"status": "unhealthy", "message": "Connection refused"},
            "migrations": {"status": "healthy"},
        },
    }
    r = smoke.check_health(api_answering({"/api/v1/health": httpx.Response(200, json=body)}))
    assert r.outcome == "failed" and "database: unhealthy (Connection refused)" in r.summary


def test_health_with_a_warning_migration_fails():
    body = {
        "status": "healthy",
        "checks": {
            "database": {"status": "healthy"},
            "migrations": {"status": "warning", "message": "No migrations applied"},
        },
    }
    r = smoke.check_health(api_answering({"/api/v1/health": httpx.Response(200, json=body)}))
    assert r.outcome == "failed" and "No migrations applied" in r.summary


def test_version_accepts_a_short_commit_and_names_the_difference():
    body = {"version": "1.4.1", "build": {"commit_sha": "abcdef0123456789"}}
    api = api_answering({"/api/v1/version": httpx.Response(200, json=body)})
    assert smoke.check_version(api, Expected(version="1.4.1", commit="abcdef0")).ok
    r = smoke.check_version(api, Expected(version="1.4.2"))
    assert r.outcome == "failed" and "version is '1.4.1', expected '1.4.2'" in r.summary


def test_writes_are_refused_without_allow_writes():
    from postdeploy.sources.apiclient import WritesNotAllowed

    api = api_answering({})
    with pytest.raises(WritesNotAllowed, match="--allow-writes"):
        api.request("DELETE", "/api/v1/projects/1")


def test_api_surface_without_openapi_is_skipped_with_what_to_configure(tmp_path):
    from postdeploy.checks.surface import check_surface
    from postdeploy.config import Security
    from postdeploy.run.pastruns import History

    api = api_answering(
        {"/openapi.json": httpx.Response(404, json={"error": {"code": "HTTP_404", "message": "Not Found"}})}
    )
    r = check_surface(api, Security(), History(tmp_path))
    assert r.outcome == "skipped" and "security.openapi_path" in r.summary


def test_leak_patterns_find_what_a_debug_page_shows():
    from postdeploy.checks.security import find_leaks

    body = (
        'Traceback (most recent call last):\n  File "/app/app/api/auth.py", line 42, in login\n'
        "psycopg.OperationalError: SELECT id FROM users WHERE email = 'x' postgresql://amani@db/amani"
    )
    assert set(find_leaks(body)) >= {
        "a Python traceback",
        "a source file path",
        "an SQL statement",
        "a database driver error",
        "a connection string",
    }
    assert find_leaks('{"error": {"code": "HTTP_404", "message": "Not Found", "status": 404, "path": "/x"}}') == []


def test_since_the_deploy_counts_raw_values_of_fresh_processes_and_falls_back():
    window = metrics.Window(42, deployed_at=1_800_000_000)
    queries = metrics.error_rate_queries("amani-backend", window)
    assert queries["requests"] == (
        'sum(http_requests_total{job="amani-backend"} and on(instance) '
        '(process_start_time_seconds{job="amani-backend"} >= 1799999995))'
    )
    # A target without process_start_time_seconds: the exact query has no data, increase() is used.
    prom = prom_answering(
        {"process_start_time_seconds": None, 'status=~"5.."': 0, "errors_total": 0, "http_requests_total": 100}
    )
    r = metrics.error_rate(prom, "amani-backend", window, TH)
    assert r.outcome == "passed" and "increase(" in r.evidence["query requests"]
    assert r.evidence["window"] == "42s since the deploy"


def test_a_429_is_honoured_once_and_recorded():
    answers = iter(
        [httpx.Response(429, headers={"Retry-After": "0.05"}), httpx.Response(200, json={"message": "pong"})]
    )
    api = ApiClient(Api(base_url="http://api.test"), transport=httpx.MockTransport(lambda req: next(answers)))
    assert api.get("/api/v1/ping").status_code == 200
    assert api.requests_sent == 2
    assert len(api.retries) == 1 and "429 (rate limited), retried after 0.05s" in api.retries[0]


@pytest.mark.parametrize(
    ("status", "headers", "wait"),
    [
        (429, {"Retry-After": "120"}, 10.0),
        (429, {}, 1.0),
        (503, {"Retry-After": "2"}, 2.0),
        (503, {}, None),
        (500, {}, None),
    ],
)
def test_rate_limit_wait(status, headers, wait):
    from postdeploy.sources.apiclient import rate_limit_wait

    assert rate_limit_wait(httpx.Response(status, headers=headers), 10.0) == wait


def test_a_retried_check_makes_the_verdict_issues():
    from postdeploy.run.verdict import decide

    verdict, reasons = decide(
        [{"id": "health", "outcome": "passed", "severity": "critical", "retries": ["GET /x: 429"]}]
    )
    assert verdict == "issues" and "rate limited" in reasons[0]


def test_truncated_json_where_json_was_due_is_a_failed_check():
    api = api_answering(
        {
            "/api/v1/health": httpx.Response(
                200, content=b'{"status": "heal', headers={"Content-Type": "application/json"}
            )
        }
    )
    r = smoke.check_health(api)
    assert r.outcome == "failed" and "not JSON" in r.summary
