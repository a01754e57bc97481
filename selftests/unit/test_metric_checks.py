"""The first-hour / first-24h metric checks against canned Prometheus answers, and their settings."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from postdeploy.checks import baseline, firsthour
from postdeploy.checks.metrics import Window
from postdeploy.config import Job, Prometheus, Thresholds, load_environment
from postdeploy.run.pastruns import History
from postdeploy.sources.promql import PromClient

TH = Thresholds(min_requests=50)


def prom(instant: dict[str, list[tuple[dict[str, str], float]]], series: list[tuple[float, float]] | None = None):
    """Instant queries answered by the first key contained in the query; range queries with `series`."""

    def handler(request: httpx.Request) -> httpx.Response:
        query = request.url.params["query"]
        if request.url.path.endswith("query_range"):
            values = [[t, str(v)] for t, v in series or []]
            result = [{"metric": {"instance": "app:1"}, "values": values}] if values else []
            return httpx.Response(200, json={"status": "success", "data": {"resultType": "matrix", "result": result}})
        key = next((k for k in instant if k in query), None)
        rows = instant.get(key, []) if key else []
        result = [{"metric": labels, "value": [1.0, str(v)]} for labels, v in rows]
        return httpx.Response(200, json={"status": "success", "data": {"resultType": "vector", "result": result}})

    return PromClient(Prometheus(url="http://prom.test", job="amani-backend"), transport=httpx.MockTransport(handler))


def test_traffic_drop_fails_with_rate_and_baseline():
    r = firsthour.traffic_routed(prom({"http_requests_total": [({}, 1.0)]}), "j", 300, 9.5, "offset 1d", TH)
    assert r.outcome == "failed" and "1.00/s vs baseline 9.50/s" in r.summary and "-89%" in r.summary
    ok = firsthour.traffic_routed(prom({"http_requests_total": [({}, 8.0)]}), "j", 300, 9.5, "x", TH)
    assert ok.outcome == "passed"


def test_traffic_without_baseline_or_with_a_tiny_one_is_inconclusive():
    p = prom({"http_requests_total": [({}, 0.0)]})
    assert firsthour.traffic_routed(p, "j", 300, None, "no record", TH).outcome == "inconclusive"
    tiny = firsthour.traffic_routed(p, "j", 10, 0.5, "x", TH)
    assert tiny.outcome == "inconclusive" and "need 50" in tiny.summary


def test_no_traffic_at_all_is_a_failure_not_no_data():
    r = firsthour.traffic_routed(prom({}), "j", 300, 9.5, "x", TH)
    assert r.outcome == "failed" and "0.00/s" in r.summary


def test_memory_slope_fails_on_steady_growth_and_shows_the_projection():
    mb = 1024 * 1024
    grow = [(float(t), 40 * mb + t * 2 * mb) for t in range(30)]
    r = firsthour.memory_trend(prom({}, grow), "j", Window(30), 1000.0, Thresholds(memory_growth_mb_per_hour=600))
    assert r.outcome == "failed" and "memory grows steadily" in r.summary
    assert "+2.000 MB/s" in r.summary and "projected in 1h" in r.summary and "r2 1.00" in r.summary
    assert r.data["slope_bytes_per_s"] == pytest.approx(2 * mb)


def test_memory_noise_without_a_trend_passes_and_few_points_are_inconclusive():
    mb = 1024 * 1024
    noise = [(float(t), 40 * mb + (mb if t % 2 else -mb)) for t in range(30)]
    assert firsthour.memory_trend(prom({}, noise), "j", Window(30), 0.0, TH).outcome == "passed"
    few = firsthour.memory_trend(prom({}, noise[:3]), "j", Window(30), 0.0, TH)
    assert few.outcome == "inconclusive" and "need 5" in few.summary
    assert firsthour.memory_trend(prom({}, []), "j", Window(30), 0.0, TH).outcome == "inconclusive"


def test_memory_limit_is_judged_when_known():
    mb = 1024 * 1024
    flat = [(float(t), 95.0 * mb) for t in range(30)]
    r = firsthour.memory_trend(prom({}, flat), "j", Window(30), 0.0, Thresholds(memory_limit_bytes=100 * mb))
    assert r.outcome == "failed" and "95% of the limit" in r.summary


def test_cpu_above_the_threshold_of_its_cores():
    p = prom({"process_cpu_seconds_total": [({"instance": "a"}, 0.45)]})
    assert firsthour.cpu_usage(p, "j", 60, Thresholds(cpu_cores=0.5)).outcome == "failed"
    assert firsthour.cpu_usage(p, "j", 60, Thresholds(cpu_cores=1.0)).outcome == "passed"
    assert firsthour.cpu_usage(prom({}), "j", 60, TH).outcome == "inconclusive"


def test_endpoints_name_the_one_with_5xx_and_the_one_without_traffic():
    answers = {
        'status=~"5.."': [({"endpoint": "/a"}, 4.0)],
        "errors_total": [],
        "histogram_quantile": [({"endpoint": "/a"}, 0.12), ({"endpoint": "/b"}, 0.02)],
        "http_requests_total": [({"endpoint": "/a"}, 40.0), ({"endpoint": "/b"}, 60.0)],
    }
    r = firsthour.endpoints(prom(answers), "j", ["/a", "/b", "/c"], Window(300), TH)
    assert r.outcome == "failed"
    assert "/a: 4 of 40 requests answered 5xx" in r.summary and "/c: no traffic" in r.summary
    assert "p95 120ms" in r.evidence["endpoint /a"]
    few = firsthour.endpoints(prom({"http_requests_total": [({"endpoint": "/a"}, 3.0)]}), "j", ["/a"], Window(300), TH)
    assert few.outcome == "inconclusive" and "3 requests" in few.summary
    assert firsthour.endpoints(prom({}), "j", [], Window(300), TH).outcome == "skipped"


def test_jobs_late_fresh_and_unknown():
    jobs = [
        Job("sync", 30.0, sql="SELECT max(t) FROM x"),
        Job("mail", 10.0, metric="last_run{task='mail'}"),
        Job("ingest", 15.0, metric="never_ran"),
    ]
    p = prom({"last_run": [({}, 990.0)]})
    r = firsthour.jobs_schedule(jobs, p, lambda sql: 900.0, 1000.0, Thresholds(job_grace=1.5))
    assert r.outcome == "failed"
    assert "sync: last run 1m40s ago, expected every 30s" in r.summary
    assert "not read (neither late nor on time): ingest: no last run known" in r.summary and "mail" not in r.summary
    assert "SQL SELECT max(t) FROM x" in r.evidence["sync"]
    assert firsthour.jobs_schedule([], p, None, 0.0, TH).outcome == "skipped"
    no_db = firsthour.jobs_schedule(jobs[:1], p, None, 1000.0, TH)
    assert "no [database] is configured" in no_db.summary


def test_a_job_metric_that_cannot_be_read_is_inconclusive_never_late():
    """Issue 11: jobs.schedule said "late" when it could not read the metric."""
    from postdeploy.core.errors import TargetUnreachable

    class Down:
        def value(self, expr, at=None):
            raise TargetUnreachable("cannot connect to Prometheus", target="http://127.0.0.1:9")

    r = firsthour.jobs_schedule([Job("mail", 10.0, metric="last_run")], Down(), None, 1000.0, TH)
    assert r.outcome == "inconclusive", r
    assert r.summary.startswith("cannot tell whether the background jobs ran: mail: cannot read its last run")
    assert "late" not in r.summary.replace("0 late jobs", "")
    nothing = firsthour.jobs_schedule([Job("ingest", 15.0, metric="never_ran")], prom({}), None, 1000.0, TH)
    assert nothing.outcome == "inconclusive" and "no last run known" in nothing.summary


def test_analytics_counts_per_hour_against_the_business_ranges():
    th = Thresholds(registrations_per_hour=[5.0, 500.0], transactions_per_hour=[10.0, 1000.0])
    fine = prom({"user_registrations_total": [({}, 50.0)], "escrow_transactions_total": [({}, 200.0)]})
    assert firsthour.analytics(fine, "j", 3600, th).outcome == "passed"
    none = prom({"user_registrations_total": [({}, 0.0)], "escrow_transactions_total": [({}, 200.0)]})
    r = firsthour.analytics(none, "j", 3600, th)
    assert r.outcome == "failed" and "registrations 0/h" in r.summary and "below 5/h" in r.summary
    quiet = prom({"user_registrations_total": [({}, 0.0)], "escrow_transactions_total": [({}, 2.0)]})
    short = firsthour.analytics(quiet, "j", 60, th)
    assert short.outcome == "inconclusive" and "need a window of" in short.summary


def test_snapshot_and_record_history_round_trip(tmp_path: Path):
    answers = {
        'status=~"5.."': [({}, 2.0)],
        "errors_total": [],
        "histogram_quantile(0.5,": [({}, 0.01)],
        "histogram_quantile(0.95,": [({}, 0.05)],
        "histogram_quantile(0.99,": [({}, 0.2)],
        "http_requests_total": [({}, 600.0)],
    }
    r = baseline.captured(prom(answers), "j", 60, [], TH)
    assert r.outcome == "passed" and r.data["baseline"]["request_rate"] == 10.0
    assert r.data["baseline"]["error_rate"] == pytest.approx(2 / 600, abs=1e-5)
    folder = tmp_path / "local" / "20260101T000000Z-pre_deploy"
    folder.mkdir(parents=True)
    import json

    check = {"id": "baseline.captured", "outcome": "passed", "data": r.data}
    (folder / "record.json").write_text(json.dumps({"phase": "pre_deploy", "version": "1.4.2", "checks": [check]}))
    source, snap = baseline.from_history(History(tmp_path / "local"))
    assert source == "pre_deploy record 20260101T000000Z-pre_deploy (version 1.4.2)" and snap["p95"] == 0.05
    assert baseline.from_history(History(tmp_path / "nothing")) is None


def test_jobs_windows_and_baseline_settings_load_from_the_file(tmp_path: Path):
    folder = tmp_path / "environments"
    folder.mkdir()
    base = "endpoints = ['/a']\n[api]\nbase_url = 'http://127.0.0.1:1'\n"
    (folder / "t.toml").write_text(
        base
        + "[windows]\nfirst_hour = '30s'\n[baseline]\noffset = '1w'\nlatency_floor = '80ms'\n"
        + "[thresholds]\nregistrations_per_hour = [1, 2.5]\n"
        + "[[jobs]]\nname = 'mail'\ninterval = '10s'\nmetric = 'last_run'\n"
    )
    env = load_environment("t", tmp_path)
    assert env.windows.first_hour == 30 and env.baseline.offset == "1w" and env.baseline.latency_floor == 0.08
    assert env.jobs == [Job("mail", 10.0, metric="last_run")] and env.endpoints == ["/a"]
    assert env.thresholds.registrations_per_hour == [1.0, 2.5]
    (folder / "t.toml").write_text(base + "[[jobs]]\nname = 'mail'\n")
    with pytest.raises(Exception, match=r"jobs\[0\]\.interval: missing required key"):
        load_environment("t", tmp_path)
    (folder / "t.toml").write_text(base + "[[jobs]]\nname = 'mail'\ninterval = '1m'\ncron = 'x'\n")
    with pytest.raises(Exception, match=r"jobs\[0\]\.cron: unknown key"):
        load_environment("t", tmp_path)


def test_sandbox_history_is_yesterday_with_labels_of_its_own():
    from sandbox.infra import history

    now = 2_000_000_000.0
    text = history.openmetrics("amani-backend", now)
    assert text.endswith("# EOF\n")
    samples = [line for line in text.splitlines() if not line.startswith("#")]
    stamps = [float(line.rsplit(" ", 1)[1]) for line in samples]
    assert min(stamps) >= now - 86400 - history.BEFORE and max(stamps) <= now - 86400 + history.AFTER
    assert max(stamps) < now - 3600  # never seen by a query of "now" (5 min lookback)
    assert all('instance="history"' in line and 'source="sandbox-history"' in line for line in samples)
    # Counters grow at the request rate: the last ping count over the span matches its share.
    total = sum(
        float(line.split(" ")[1])
        for line in samples
        if line.startswith("http_requests_total") and line.endswith(f" {max(stamps):.0f}")
    )
    assert total / (history.BEFORE + history.AFTER) == pytest.approx(history.REQUEST_RATE, rel=0.01)
