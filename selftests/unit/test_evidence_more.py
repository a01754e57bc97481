"""Issue 11, the rest: Prometheus as a dependency, the smaller items of point 6, `verdict`'s record.

Unit tests and pytester runs with checks of our own (no sandbox); the later phases against a
killed app are in test_evidence_e2e.py.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import httpx
import pytest

from postdeploy.cli import main as cli
from postdeploy.config import Job, Prometheus, Thresholds
from postdeploy.sources.promql import PromClient

ROOT = Path(__file__).resolve().parents[2]


# -- `verdict` of an environment: latest, unless a newer run judged nothing -------------------
def _run(env_dir: Path, stamp: str, verdict: str, *, latest: bool = False) -> Path:
    folder = env_dir / f"{stamp}-first15"
    folder.mkdir(parents=True)
    reasons = ["no check ran: pytest stopped with a usage error (exit 4)"] if verdict == "incomplete" else []
    (folder / "record.json").write_text(
        json.dumps({"verdict": verdict, "env": env_dir.name, "phase": "first15", "verdict_reasons": reasons})
    )
    if latest:
        link = env_dir / "latest"
        link.unlink(missing_ok=True)
        link.symlink_to(folder.name)
    return folder


def test_verdict_of_an_environment_is_latest_unless_a_newer_run_judged_nothing(tmp_path: Path, capsys):
    env_dir = tmp_path / "local"
    older = _run(env_dir, "20261127T010000Z", "success", latest=True)
    # A newer run that is not incomplete but latest was not moved to it: latest decides.
    _run(env_dir, "20261127T010100Z", "rollback")
    for args in (["verdict", str(env_dir)], ["verdict", "--reports", str(tmp_path)]):
        assert cli(args) == 0, args
        assert str(older / "record.json") in capsys.readouterr().out
    # `pytest -m firstt15 --env local; python -m postdeploy verdict`: the newer incomplete run, exit 3.
    judged_nothing = _run(env_dir, "20261127T010200Z", "incomplete")
    for args in (["verdict", str(env_dir)], ["verdict", "--reports", str(tmp_path)]):
        assert cli(args) == 3, args
        assert str(judged_nothing / "record.json") in capsys.readouterr().out
    assert cli(["verdict", str(env_dir / "latest")]) == 0
    # A later real run moves latest past the incomplete one: its verdict again.
    _run(env_dir, "20261127T010300Z", "issues", latest=True)
    assert cli(["verdict", str(env_dir)]) == 1
    assert cli(["verdict", "--reports", str(tmp_path)]) == 1
    # An environment without latest (only incomplete runs): its newest run.
    _run(tmp_path / "prod", "20261127T020000Z", "incomplete")
    assert cli(["verdict", str(tmp_path / "prod")]) == 3
    assert cli(["verdict", "--reports", str(tmp_path)]) == 3  # prod holds the newest run
    assert cli(["verdict", str(tmp_path / "nowhere")]) == 3
    assert "no record.json in" in capsys.readouterr().err


# -- pytester runs -----------------------------------------------------------------------------
DEAD = "http://127.0.0.1:9"  # nothing listens on the discard port: connection refused at once


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.mkdir("environments")
    return pytester


def _env(suite: pytest.Pytester, extra: str = "") -> None:
    (suite.path / "environments" / "t.toml").write_text(
        f'[api]\nbase_url = "{DEAD}"\nconnect_timeout = "0.5s"\n' + extra
    )


def _record(suite: pytest.Pytester) -> dict:
    found = sorted(suite.path.glob("reports/t/2*/record.json"), key=lambda p: p.stat().st_mtime)
    assert found, "no record written"
    return json.loads(found[-1].read_text())


def test_prometheus_unreachable_is_one_root_and_the_other_metric_checks_are_blocked(suite):
    _env(suite, f'[prometheus]\nurl = "{DEAD}"\njob = "amani-backend"\ntimeout = "2s"\n')
    for name in ("test_first15_metrics.py", "test_first_hour_metrics.py"):
        (suite.path / name).write_text((ROOT / "tests_metrics" / name).read_text())
    started = time.monotonic()
    # A subprocess: an in-process httpx connection re-imports httpcore for the rest of the session.
    result = suite.runpytest_subprocess("-p", "no:cacheprovider", "--env", "t", "-m", "first15 or first_hour")
    seconds = time.monotonic() - started
    record = _record(suite)
    by_id = {c["id"]: c for c in record["checks"]}
    metric = ["error_rate", "latency.p95", "traffic.routed", "resources", "endpoints", "analytics"]
    roots = [c for c in metric if by_id[c]["outcome"] in ("failed", "error", "inconclusive")]
    assert len(roots) == 1, {c: by_id[c]["outcome"] for c in metric}
    root = roots[0]
    assert "Prometheus http://127.0.0.1:9" in by_id[root]["summary"], by_id[root]
    blocked = {c for c in metric if by_id[c]["outcome"] == "blocked"}
    assert blocked == set(metric) - {root}, {c: by_id[c]["outcome"] for c in metric}
    for c in blocked:
        assert by_id[c]["blocked_by"] == root
        assert by_id[c]["summary"].startswith(f"blocked by {root}: Prometheus http://127.0.0.1:9")
    assert record["verdict_reasons"][0].startswith(f"major check {root} failed: "), record["verdict_reasons"]
    assert any(r.startswith(f"{len(blocked)} check(s) blocked by {root}") for r in record["verdict_reasons"])
    assert "Traceback" not in result.stdout.str() + result.stderr.str()
    assert seconds < 60


def test_prometheus_roots_of_several_workers_become_one_in_the_record():
    """Under xdist each worker finds Prometheus down on its own: the record keeps the first."""
    from postdeploy.core import gates
    from postdeploy.run.verdict import decide

    why = "cannot read the error rate: Prometheus http://p:9090/api/v1/query: cannot connect"
    checks = [
        {"id": "error_rate", "outcome": "failed", "severity": "major", "depends_on": ["prometheus"], "summary": why},
        {"id": "latency.p95", "outcome": "failed", "severity": "major", "depends_on": ["prometheus"], "summary": "x"},
        {"id": "traffic.routed", "outcome": "failed", "severity": "major", "depends_on": ["process", "prometheus"]},
        {"id": "logs.clean", "outcome": "failed", "severity": "major", "summary": "2 ERROR lines"},
    ]
    for c in checks[:3]:
        c["unreached"] = ["prometheus"]
    # A metric check that reached Prometheus and failed on its own stays failed.
    checks.append({"id": "endpoints", "outcome": "failed", "severity": "major", "depends_on": ["prometheus"]})
    gates.relabel(checks)
    assert [c["outcome"] for c in checks] == ["failed", "blocked", "blocked", "failed", "failed"]
    assert checks[1]["summary"] == f"blocked by error_rate: {why}"
    verdict, reasons = decide(checks)
    assert reasons[0] == f"major check error_rate failed: {why}"


def test_a_database_connection_failure_is_said_once(suite):
    """Issue 11: the message was printed twice around "During handling of the above exception"."""
    _env(suite, '[database]\ndsn = "host=127.0.0.1 port=9 dbname=x user=y"\nconnect_timeout = "1s"\n')
    (suite.path / "test_db.py").write_text((ROOT / "tests_db" / "test_first_hour_db.py").read_text())
    result = suite.runpytest("-p", "no:cacheprovider", "--env", "t", "-m", "first_hour", "-k", "slow or long")
    out = result.stdout.str()
    assert "During handling of the above exception" not in out, out
    assert out.count("port 9 failed: Connection refused") >= 1
    section = out.split("ERROR at setup of test_db_slow_queries")[1].split("ERROR at setup")[0]
    assert section.count("Connection refused") == 1, section


@pytest.mark.parametrize("flag", ["unknown.id=x", "unknown.id=qa: checked", "Support.Channels=x"])
def test_an_unknown_attestation_id_is_named_with_the_known_ones(suite, flag):
    _env(suite)
    result = suite.runpytest("-p", "no:cacheprovider", "--env", "t", "--attest", flag)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    err = result.stderr.str()
    item = flag.split("=")[0]
    assert f"unknown manual item {item!r} from --attest (manual items: analytics.reviewed, " in err, err
    assert 'write ID="who: note"' not in err and "Traceback" not in err


def test_a_known_attestation_id_with_a_bad_format_still_says_the_format():
    from postdeploy.run import attest

    with pytest.raises(attest.AttestationError, match=r'write support.channels="who: note" \(both needed\)'):
        attest.parse("support.channels=x")


def test_report_html_links_the_timeline(suite):
    _env(suite)
    suite.makepyfile(
        test_ok="""
import pytest
from postdeploy.core.results import passed

@pytest.mark.first15
@pytest.mark.checklist(1, "ev.one")
@pytest.mark.severity("major")
def test_one(check):
    check.judge(passed("fine"))
"""
    )
    result = suite.runpytest("-p", "no:cacheprovider", "--env", "t", "-m", "first15")
    assert result.ret == 0, result.stdout.str()[-2000:]
    folder = max(suite.path.glob("reports/t/2*/report.html"), key=os.path.getmtime).parent
    page = (folder / "report.html").read_text()
    link = '<a href="../unknown/timeline.html">../unknown/timeline.html</a>'
    assert link in page, "the pointer in the sign-off section must be a link"
    assert "[../unknown/timeline.html](" not in page
    assert (folder / ".." / "unknown" / "timeline.html").resolve().is_file()


def test_linked_makes_only_markdown_links_links():
    from postdeploy.pytestplugin.reporting import linked

    assert linked("see [t](../v/timeline.html) & <b>") == 'see <a href="../v/timeline.html">t</a> &amp; &lt;b&gt;'
    assert "<a" not in linked("[x](javascript:alert(1))")


# -- error rate and its diagnosis read the same numbers ------------------------------------------
def _prom(answers: dict[str, list[tuple[dict[str, str], float]]], asked: list[str] | None = None) -> PromClient:
    """Instant queries answered by the first key contained in the query (keys tried in order)."""

    def handler(request: httpx.Request) -> httpx.Response:
        query = request.url.params["query"]
        if asked is not None:
            asked.append(query)
        key = next((k for k in answers if k in query), None)
        rows = answers[key] if key else []
        result = [{"metric": labels, "value": [1.0, str(v)]} for labels, v in rows]
        return httpx.Response(200, json={"status": "success", "data": {"resultType": "vector", "result": result}})

    return PromClient(Prometheus(url="http://prom.test", job="amani-backend"), transport=httpx.MockTransport(handler))


def test_error_rate_summary_and_evidence_count_the_same_requests():
    """Issue 11: "11 of 240 requests" beside "requests: 229" (the 11 unhandled are not in http_requests_total)."""
    from postdeploy.checks import metrics

    prom = _prom({'status=~"5.."': [({}, 0.0)], "errors_total": [({}, 11.0)], "http_requests_total": [({}, 229.0)]})
    r = metrics.error_rate(prom, "amani-backend", metrics.Window(300), Thresholds(min_requests=50))
    assert "11 of 240 requests: 0 5xx of 229 answered, 11 unhandled exceptions" in r.summary
    assert r.evidence["requests judged (answered + unhandled)"] == "240"
    assert r.evidence["errors judged (5xx + unhandled)"] == "11"
    assert r.evidence["answered (http_requests_total)"] == "229"
    assert r.evidence["unhandled exceptions (errors_total, not in http_requests_total)"] == "11"
    assert "requests" not in r.evidence  # no bare count that reads as the total


def test_the_diagnosis_reads_the_checks_window_and_series():
    """Issue 11: "top failing endpoints: none" beside "5xx: 2" (increase() missed a new counter)."""
    from datetime import UTC, datetime

    from postdeploy.checks import diagnostics, metrics

    deployed = datetime.fromtimestamp(time.time() - 20, UTC)
    window = metrics.window_since(deployed, time.time(), 900)
    asked: list[str] = []
    # Exact since the deploy (the raw counters of the new process), as the check reads them.
    prom = _prom(
        {
            'status=~"5.."} and on(instance)': [({"endpoint": "/api/v1/projects"}, 2.0)],
            'errors_total{job="amani-backend"} and on(instance)': [({"endpoint": "/api/v1/health"}, 1.0)],
        },
        asked,
    )
    text = diagnostics.top_failing_endpoints(prom, "amani-backend", window)
    assert text.startswith("/api/v1/projects: 2 (2 5xx, 0 unhandled), /api/v1/health: 1 (0 5xx, 1 unhandled)"), text
    assert all("and on(instance)" in q and "increase(" not in q for q in asked)
    check = metrics.error_rate_queries("amani-backend", window)
    assert check["5xx"].replace("sum(", "sum by (endpoint) (", 1) in asked
    # Nothing failing: it says so, with the window, instead of a bare "none".
    nothing = diagnostics.top_failing_endpoints(_prom({}), "amani-backend", metrics.Window(60))
    assert nothing.startswith("no endpoint with 5xx or unhandled exceptions in 60s"), nothing


def test_a_diagnosis_that_could_not_be_gathered_says_so():
    from postdeploy.checks import diagnostics
    from postdeploy.config import Environment
    from postdeploy.core.results import failed

    label, text = diagnostics._try("CPU and memory", lambda: "")
    assert text == "could not gather: the source answered nothing"
    label, text = diagnostics._try("x", lambda: (_ for _ in ()).throw(RuntimeError("boom")))
    assert text == "could not gather: RuntimeError: boom"
    env = Environment.__new__(Environment)
    object.__setattr__(env, "prometheus", None)
    r = diagnostics.attach(failed("error rate 5%"), "errors", None, env, 60.0)  # type: ignore[arg-type]
    assert r.evidence["diagnosis: top failing endpoints over 1m"] == "could not gather: no [prometheus] is configured"
    # A client the getter cannot give (pytest's fail or skip of a fixture) is said, never raised.
    object.__setattr__(env, "prometheus", type("P", (), {"job": "selftest"})())

    def refused(name: str) -> None:
        pytest.fail(f"{name} unreachable", pytrace=False)

    r = diagnostics.attach(failed("error rate 5%"), "errors", refused, env, 60.0)
    assert r.evidence["diagnosis: top failing endpoints over 1m"] == "could not gather: prom unreachable"


# -- jobs.schedule says "late" only of a job it read -----------------------------------------------
def test_jobs_schedule_says_late_only_of_jobs_it_read():
    from postdeploy.checks import firsthour
    from postdeploy.core.errors import TargetUnreachable

    class Down:
        def value(self, expr, at=None):
            raise TargetUnreachable("Prometheus http://p:9090: cannot connect", target="http://p:9090")

    jobs = [Job("sync", 30.0, sql="SELECT max(t) FROM x"), Job("mail", 10.0, metric="last_run")]
    r = firsthour.jobs_schedule(jobs, Down(), lambda sql: 900.0, 1000.0, Thresholds(job_grace=1.5))
    assert r.outcome == "failed"
    late, unread = r.summary.split(". not read (neither late nor on time): ")
    assert late == "background jobs late: sync: last run 1m40s ago, expected every 30s (late after 45s)"
    assert unread.startswith("mail: cannot read its last run") and "late" not in unread
    # A row that is not a time, a gauge never set (0), a misconfigured job: never "late".
    odd = [Job("a", 10.0, sql="SELECT 'x'"), Job("b", 10.0, sql="SELECT 0"), Job("c", 10.0)]
    answers = {"SELECT 'x'": "yesterday", "SELECT 0": 0}
    r = firsthour.jobs_schedule(odd, None, lambda sql: answers[sql], 1000.0, Thresholds())
    assert r.outcome == "failed" and "late" not in r.summary.split("jobs misconfigured")[0]
    assert r.summary.startswith("jobs misconfigured: c: configure exactly one of metric or sql")
    assert "a: SQL SELECT 'x' did not return a time" in r.summary and "b: no last run known" in r.summary
    only_unread = firsthour.jobs_schedule(odd[:2], None, lambda sql: answers[sql], 1000.0, Thresholds())
    assert only_unread.outcome == "inconclusive"
