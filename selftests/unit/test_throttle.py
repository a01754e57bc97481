"""Throttling is not an outage, and a hung dependency is named (issue 12), without a sandbox.

Canned answers through httpx's MockTransport; a fake clock for the pacer; a socket that
listens and never accepts for the database probe.
"""

from __future__ import annotations

import json
import re
import socket
from datetime import UTC, datetime

import httpx
import pytest
from test_config import load

from postdeploy.checks import logs as log_checks
from postdeploy.config import Api, Database, Logs, ThrottleSignal
from postdeploy.core.errors import ConfigError, TargetTimeout, TargetUnreachable
from postdeploy.core.results import failed
from postdeploy.run.verdict import decide
from postdeploy.sources import throttle
from postdeploy.sources.apiclient import ApiClient
from postdeploy.sources.logsource import LogSource

BASE = "http://api.test"
GENERIC_500 = {"error": {"code": "INTERNAL_ERROR", "message": "An unexpected error occurred", "status": 500}}
PRODUCTION_SIGNAL = ThrottleSignal(status=500, body="INTERNAL_ERROR", log="HTTPException: 429")


def client(handler, **api) -> ApiClient:
    return ApiClient(Api(base_url=BASE, **api), transport=httpx.MockTransport(handler))


# -- configuration ---------------------------------------------------------------------------


def test_rate_limit_and_throttle_signals_load_from_the_env_file(tmp_path):
    env = load(
        tmp_path,
        '[api]\nbase_url = "http://x.test"\nrate_limit = "60/min"\nhung_read_timeout = "2s"\n'
        '[[api.throttle]]\nstatus = 500\nbody = "INTERNAL_ERROR"\nlog = "HTTPException: 429"\n',
    )
    assert throttle.Pacer(env.api.rate_limit).describe() == "60 per 60 s"
    assert env.api.throttle == [PRODUCTION_SIGNAL]
    assert env.api.hung_read_timeout == 2.0
    assert load(tmp_path, '[api]\nbase_url = "http://x.test"\n').api.rate_limit == ""


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        ('rate_limit = "lots"', 'is not "N/s", "N/min" or "N/hour"'),
        ('rate_limit = "0/min"', "N >= 1"),
        ("[[api.throttle]]\nstatus = 1000", "must be an HTTP status"),
        ('[[api.throttle]]\nstatus = 500\nlog = "("', "not a valid regular expression"),
        ("[api.throttle]\nstatus = 500", "list of tables"),
    ],
)
def test_bad_throttle_settings_are_one_line_errors(tmp_path, extra, needle):
    with pytest.raises(ConfigError) as info:
        load(tmp_path, f'[api]\nbase_url = "http://x.test"\n{extra}\n')
    assert needle in str(info.value) and "\n" not in str(info.value)


# -- pacing ----------------------------------------------------------------------------------


def test_the_pacer_keeps_requests_under_the_declared_limit(monkeypatch):
    now = [1000.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    monkeypatch.setattr(throttle.time, "monotonic", lambda: now[0])
    monkeypatch.setattr(throttle.time, "sleep", sleep)
    pacer = throttle.Pacer("3/s")
    for _ in range(3):
        pacer.wait()
        now[0] += 0.1
    assert slept == []
    pacer.wait()  # the 4th within the second waits for the 1st to leave the window
    assert slept == [pytest.approx(0.7)]
    assert pacer.last_minute() == 4


def test_no_limit_declared_never_waits_and_xdist_workers_share_it(monkeypatch):
    monkeypatch.setattr(throttle.time, "sleep", lambda s: pytest.fail("slept without a limit"))
    pacer = throttle.Pacer("")
    for _ in range(100):
        pacer.wait()
    assert pacer.describe().startswith("none declared")
    assert throttle.Pacer("60/min", share=4).count == 15


# -- recognising a limiter -------------------------------------------------------------------


def test_a_generic_500_is_throttling_only_when_the_limiter_logged_it():
    logged = {"n": 0}
    api = client(lambda req: httpx.Response(500, json=GENERIC_500), throttle=[PRODUCTION_SIGNAL])
    api.count_log = lambda pattern, since: logged["n"] if pattern.pattern == "HTTPException: 429" else 0
    api.get("/api/v1/readiness")
    assert api.throttled == []  # an ordinary 500: a broken release, not a limiter
    logged["n"] = 3
    resp = api.get("/api/v1/readiness")
    assert "the log has 3 line(s) matching 'HTTPException: 429'" in resp.extensions["postdeploy_throttled"]
    assert [e.marker for e in api.throttled] == [f"GET {BASE}/api/v1/readiness answered 500"]


def test_a_body_signal_without_a_log_pattern_and_a_plain_429():
    answers = iter([httpx.Response(500, json={"detail": "Rate limit exceeded"}), httpx.Response(429)])
    api = client(lambda req: next(answers), throttle=[ThrottleSignal(status=500, body="Rate limit")], max_retry_wait=0)
    api.get("/a")
    assert "declared throttle signal" in api.throttled[0].text
    # The 429 is retried once (the retry answers 429 too: StopIteration is not reached).
    answers = iter([httpx.Response(429), httpx.Response(429)])
    api.get("/b")
    assert "429 Too Many Requests" in api.throttled[1].text


def test_a_throttled_login_stays_evidence_for_the_checks_that_need_its_token():
    api = client(lambda req: httpx.Response(429), max_retry_wait=0)
    from postdeploy.config import User
    from postdeploy.core.redaction import Secret

    api = ApiClient(
        Api(base_url=BASE, user=User("u@x.test", Secret("pw", "test")), max_retry_wait=0),
        transport=httpx.MockTransport(lambda req: httpx.Response(429)),
    )
    login = api.login()
    assert not login.ok and "429" in login.throttled
    mark = len(api.throttled)
    with pytest.raises(TargetUnreachable) as info:
        api.token()
    result = failed(f"project list: {info.value}")
    events = api.throttle_events(mark)
    assert throttle.caused(result, events)
    assert type(login).from_wire(json.loads(json.dumps(login.to_wire()))).throttled == login.throttled


def test_reframe_says_throttled_at_major_and_only_when_throttling_caused_the_failure():
    events = [throttle.Event(f"GET {BASE}/x answered 500", "GET /x: 500, and the log has 1 line(s) ...")]
    throttled = failed(f"GET {BASE}/x answered 500: INTERNAL_ERROR An unexpected error occurred")
    assert throttle.caused(throttled, events)
    r = throttle.reframe(throttled, events, 7, "none declared ([api] rate_limit)")
    assert r.summary.startswith("throttled by the service's rate limiter: GET")
    assert r.severity == "major" and r.kind == "throttled"
    assert r.evidence["requests this run sent in the last minute"] == "7"
    assert "rate_limit" in r.advice
    # A check that failed for a reason of its own is not excused by a throttled request.
    assert not throttle.caused(failed("version is '1.4.1', expected '1.4.2'"), events)


def test_a_throttled_critical_check_makes_issues_not_rollback():
    checks = [
        {"id": "readiness", "outcome": "failed", "severity": "major", "kind": "throttled"},
        {"id": "health", "outcome": "passed", "severity": "critical"},
    ]
    verdict, reasons = decide(checks)
    assert verdict == "issues"
    assert reasons == ["major check readiness failed: throttled by the service's rate limiter"]


# -- reset kept-alive connections ------------------------------------------------------------


def test_a_reset_connection_is_retried_once_on_a_fresh_one_and_said():
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if len(calls) == 1:
            raise httpx.ReadError("[Errno 104] Connection reset by peer")
        return httpx.Response(200, json={"message": "pong"})

    api = client(handler)
    assert api.get("/api/v1/ping").status_code == 200
    assert api.requests_sent == 2
    assert "reset the connection" in api.retries[0] and "fresh" in api.retries[0]
    assert "Connection reset by peer" in api.retries[0]


def test_a_reset_twice_says_so_and_a_write_is_not_retried():
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadError("[Errno 104] Connection reset by peer")

    api = client(handler)
    with pytest.raises(TargetUnreachable) as info:
        api.get("/api/v1/ping")
    assert "reset the connection" in str(info.value) and "again on a fresh connection" in str(info.value)
    assert "cannot connect" not in str(info.value)
    api.allow_writes = True
    with pytest.raises(TargetUnreachable) as info:
        api.request("POST", "/api/v1/projects", json={})
    assert "not retried" in str(info.value)
    assert api.requests_sent == 3


# -- a hung dependency -----------------------------------------------------------------------


def test_a_hang_names_the_database_and_later_calls_wait_less():
    timeouts: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        timeouts.append(request.extensions["timeout"]["read"])
        raise httpx.ReadTimeout("timed out")

    probes = []
    api = client(handler, read_timeout=10.0, hung_read_timeout=2.0)
    api.dependency_probe = lambda: probes.append(1) or "the database does not answer within 5 s: the likely cause"
    with pytest.raises(TargetTimeout) as first:
        api.get("/api/v1/health")
    with pytest.raises(TargetTimeout) as second:
        api.get("/api/v1/readiness")
    assert timeouts == [10.0, 2.0]
    assert "no answer within 10s (read timeout): the database does not answer within 5 s" in str(first.value)
    assert "no answer within 2s" in str(second.value) and "already hung in this run" in str(second.value)
    assert probes == [1]  # asked once per run


def test_without_a_database_a_hang_is_the_service():
    api = client(lambda req: (_ for _ in ()).throw(httpx.ReadTimeout("timed out")), read_timeout=3.0)
    with pytest.raises(TargetTimeout, match=r"no answer within 3s \(read timeout\): the service hangs"):
        api.get("/api/v1/health")


def test_the_database_probe_is_bounded_and_names_a_database_that_never_answers():
    from postdeploy.sources.db import probe

    with socket.socket() as hung:  # listens, never accepts: the handshake never comes
        hung.bind(("127.0.0.1", 0))
        hung.listen(8)
        port = hung.getsockname()[1]
        cfg = Database(dsn=f"host=127.0.0.1 port={port} dbname=x user=y", connect_timeout=1.0)
        said = probe(cfg)
    assert said.startswith("the database does not answer within 1 s") and "the likely cause" in said


# -- logs.clean and the limiter's own lines --------------------------------------------------


def _line(level: str, message: str, when: str = "2026-11-27 10:00:05") -> str:
    return json.dumps({"asctime": when, "name": "app.main", "levelname": level, "message": message})


def test_logs_clean_says_the_limiters_lines_and_does_not_count_them(tmp_path):
    log = tmp_path / "app.log"
    since = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
    log.write_text("\n".join([_line("ERROR", "HTTPException: 429: Rate limit exceeded")] * 3) + "\n")
    source = LogSource(Logs(kind="file", path=str(log)))
    r = log_checks.clean(source, since, ["HTTPException: 429"])
    assert r.outcome == "passed" and "3 line(s) of the service's rate limiter not counted" in r.summary
    assert "rate limiter lines" in r.evidence
    # Undeclared, they are errors like any other; a real error among them still fails.
    assert log_checks.clean(source, since).outcome == "failed"
    with log.open("a") as fh:
        fh.write(_line("ERROR", "Failed to initialize database: boom") + "\n")
    r = log_checks.clean(source, since, ["HTTPException: 429"])
    assert r.outcome == "failed" and r.value == 1 and "rate limiter" in r.summary


def test_a_limiter_traceback_under_a_plain_error_line_counts_as_the_limiters(tmp_path):
    log = tmp_path / "stdout.log"
    log.write_text(
        "2026-11-27 10:00:05 - app.main - ERROR - Unhandled exception\n"
        "Traceback (most recent call last):\n"
        "fastapi.exceptions.HTTPException: 429: Rate limit exceeded\n"
    )
    r = log_checks.clean(LogSource(Logs(kind="file", path=str(log))), None, ["HTTPException: 429"])
    assert r.outcome == "passed", r.summary


def test_declared_signal_matching_reads_the_log_since_the_request():
    seen = {}

    def count(pattern: re.Pattern[str], since: datetime) -> int:
        seen["since"] = since
        return 1

    sent = datetime(2026, 11, 27, 10, 0, 5, 700000, tzinfo=UTC)
    resp = httpx.Response(500, json=GENERIC_500)
    assert throttle.declared(resp, [PRODUCTION_SIGNAL], sent, count)
    assert seen["since"] == sent.replace(microsecond=0)
    assert throttle.declared(resp, [PRODUCTION_SIGNAL], sent, None) is None  # cannot confirm: not throttled


def test_one_rate_grammar_for_the_limit_and_the_watch_traffic():
    from postdeploy.config.units import parse_rate, per_second
    from postdeploy.sources.watchtraffic import parse_rate as traffic_rate

    assert parse_rate("60/min") == (60, 60.0) and parse_rate("900/hour") == (900, 3600.0)
    with pytest.raises(ValueError, match="N >= 1"):
        parse_rate("0.5/s")  # a limit counts whole requests per period
    assert per_second("30/min") == 0.5 and per_second("0.5/s") == 0.5 and per_second("7200/h") == 2.0
    assert traffic_rate("2/s") == 2.0 and traffic_rate("30/m") == 0.5
    with pytest.raises(ValueError, match="write e.g. 2/s"):
        traffic_rate("lots")
    with pytest.raises(ValueError, match="at most 20/s"):
        traffic_rate("30/s")
