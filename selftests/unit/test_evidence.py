"""Issue 11: a verdict never better than its evidence.

Driven through pytester with checks of our own (no sandbox): runs that judged nothing,
critical checks that could not run, start-up errors, blocked dependants, the CLI.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from postdeploy.cli import main as cli

ENV = """
[api]
base_url = "http://127.0.0.1:9"
connect_timeout = "0.5s"
"""

CHECKS = """
import pytest
from postdeploy.core.results import passed

@pytest.mark.first15
@pytest.mark.checklist(1, "ev.one")
@pytest.mark.severity("critical")
def test_one(check):
    check.judge(passed("one is fine"))

@pytest.mark.first15
@pytest.mark.checklist(2, "ev.two")
@pytest.mark.severity("major")
def test_two(check):
    check.judge(passed("two is fine"))
"""


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.mkdir("environments")
    (pytester.path / "environments" / "t.toml").write_text(ENV)
    pytester.makepyfile(test_ev_checks=CHECKS)
    return pytester


def run(suite: pytest.Pytester, *args: str, subprocess: bool = False) -> tuple[pytest.RunResult, dict]:
    runner = suite.runpytest_subprocess if subprocess else suite.runpytest
    result = runner("-p", "no:cacheprovider", "--strict-markers", "--env", "t", *args)
    records = sorted(suite.path.glob("reports/t/2*/record.json"), key=lambda p: p.stat().st_mtime)
    assert records, result.stdout.str()[-2000:] + result.stderr.str()[-2000:]
    return result, json.loads(records[-1].read_text())


def newest(suite: pytest.Pytester) -> Path:
    return max(suite.path.glob("reports/t/2*/record.json"), key=lambda p: p.stat().st_mtime).parent


def assert_only_an_incomplete_record(suite: pytest.Pytester) -> None:
    """A run stopped at start-up: an `incomplete` record (so a CI gate cannot pass), nothing else."""
    folders = [p.parent for p in suite.path.glob("reports/t/2*/record.json")]
    assert len(folders) == 1, folders
    record = json.loads((folders[0] / "record.json").read_text())
    assert record["verdict"] == "incomplete" and record["checks"] == [], record
    assert not (suite.path / "reports" / "t" / "latest").exists()
    assert "exports" not in record and not (folders[0] / "report.html").exists()


def latest(suite: pytest.Pytester) -> str:
    return (suite.path / "reports" / "t" / "latest").resolve().name


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (("-m", "firstt15"), 4, "Unknown marker(s) in '-m' expression: firstt15"),
        (("-m", "first15", "test_ev_nope.py"), 4, "file or directory not found: test_ev_nope.py"),
        (("-m", "first15", "-k", "nothingmatches"), 5, '"no tests ran": all 2 first15 checks deselected (-k was given'),
    ],
    ids=["unknown-marker", "missing-file", "nothing-selected"],
)
def test_a_run_that_checked_nothing_is_incomplete_and_moves_nothing(suite, args, code, words):
    good, record = run(suite, "-m", "first15")
    assert record["verdict"] == "success"
    before = latest(suite)
    result, record = run(suite, *args)
    assert result.ret == code
    assert record["verdict"] == "incomplete", record["verdict_reasons"]
    assert record["verdict_reasons"][0].startswith("no check ran: ")
    assert words in record["verdict_reasons"][0]
    assert record["judged"] is False
    assert latest(suite) == before, "latest must keep pointing at the last real verdict"
    folder = newest(suite)
    assert "Status: ✅" not in (folder / "record.md").read_text()
    assert "incomplete" in (folder / "record.md").read_text()
    # The pipeline's gate: `pytest ... || true; python -m postdeploy verdict` exits 3.
    assert cli(["verdict", "--reports", str(suite.path / "reports")]) == 3
    assert cli(["verdict", str(suite.path / "reports" / "t")]) == 3  # an env folder: its newest run
    assert cli(["verdict", str(suite.path / "reports" / "t" / "latest")]) == 0


def test_a_collection_error_is_incomplete_quoting_pytest(suite):
    suite.makepyfile(test_ev_broken="import no_such_module_of_postdeploy\n")
    result, record = run(suite, "-m", "first15")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    assert record["verdict"] == "incomplete"
    first = record["verdict_reasons"][0]
    assert '"Interrupted: 1 error during collection"' in first and "no_such_module_of_postdeploy" in first, first
    assert cli(["verdict", "--reports", str(suite.path / "reports")]) == 3


def test_every_check_skipped_is_incomplete(suite):
    suite.makepyfile(
        test_ev_skips="""
import pytest

@pytest.mark.first15
@pytest.mark.checklist(3, "ev.skip")
@pytest.mark.severity("major")
def test_skip(check):
    pytest.skip("does not apply here")
"""
    )
    result, record = run(suite, "-m", "first15", "test_ev_skips.py")
    assert record["verdict"] == "incomplete"
    assert "every selected check was skipped" in record["verdict_reasons"][0]


def test_a_partly_deselected_phase_says_how_much_it_ran(suite):
    result, record = run(suite, "-m", "first15", "-k", "one")
    assert result.ret == 0
    assert record["verdict"] == "success"
    assert record["coverage"] == "1 of 2 first15 checks: -k was given"
    result.stdout.fnmatch_lines(["*covered: 1 of 2 first15 checks: -k was given*"])
    folder = newest(suite)
    assert "Covered: 1 of 2 first15 checks: -k was given" in (folder / "record.md").read_text()


def test_exports_of_an_incomplete_run_say_incomplete():
    from postdeploy.outputs import annotation, pushgateway
    from postdeploy.sources import slack

    data = {
        "env": "prod",
        "phase": "first15",
        "verdict": "incomplete",
        "verdict_reasons": ["no check ran: pytest stopped with a usage error (exit 4): x"],
        "checks": [],
        "start": "2026-11-27T01:29:00+00:00",
        "end": "2026-11-27T01:30:00+00:00",
    }
    assert "postdeploy_verdict 3" in pushgateway.exposition(data)
    text = json.dumps(slack.verdict_message(data, "report.html"))
    assert "INCOMPLETE" in text and "SUCCESS" not in text
    from postdeploy.config import GrafanaAnnotation

    note = annotation.body(GrafanaAnnotation(), data, None)
    assert "verdict:incomplete" in note["tags"] and "INCOMPLETE" in note["text"]


def test_cli_usage_errors_exit_4_not_the_code_of_rollback(capsys):
    with pytest.raises(SystemExit) as exc:
        cli(["verdikt"])
    assert exc.value.code == 4
    with pytest.raises(SystemExit) as exc:
        cli(["verdict", "--no-such-flag"])
    assert exc.value.code == 4
    assert "error:" in capsys.readouterr().err


def test_verdict_prints_three_reasons_then_the_blocked_count(tmp_path: Path, capsys):
    run_dir = tmp_path / "prod" / "20261127T010000Z-first15"
    run_dir.mkdir(parents=True)
    checks = [{"id": "deploy.running", "outcome": "failed", "severity": "critical", "summary": "process gone"}]
    checks += [
        {"id": f"c{n}", "outcome": "blocked", "severity": "critical", "blocked_by": "deploy.running"} for n in range(12)
    ]
    checks += [{"id": f"m{n}", "outcome": "failed", "severity": "major", "summary": "bad"} for n in range(4)]
    from postdeploy.run.verdict import decide

    verdict, reasons = decide(checks)
    assert verdict == "rollback"
    assert reasons[0] == "critical check deploy.running failed: process gone"
    (run_dir / "record.json").write_text(
        json.dumps({"verdict": verdict, "env": "prod", "verdict_reasons": reasons, "checks": checks})
    )
    assert cli(["verdict", str(run_dir)]) == 2
    out = capsys.readouterr().out.splitlines()
    listed = [line for line in out if line.startswith("  - ")]
    assert len(listed) == 3 and "deploy.running" in listed[0]
    assert out[-1] == "  and 12 blocked (by deploy.running)"


ROOT = Path(__file__).resolve().parents[2]


def test_a_critical_check_not_run_for_want_of_an_expected_version_makes_issues(suite):
    suite.makepyfile(test_ev_deploy=(ROOT / "tests_smoke" / "test_first15_deploy.py").read_text())
    result, record = run(suite, "-m", "first15", "-k", "version or one")
    assert record["verdict"] == "issues", record["verdict_reasons"]
    first = record["verdict_reasons"][0]
    assert first.startswith("critical check deploy.version not run: pass --expect-version or set [expected]"), first
    assert cli(["verdict", "--reports", str(suite.path / "reports")]) == 1


@pytest.mark.parametrize("how", ["flag", "variable"])
def test_an_empty_expected_version_is_a_usage_error(suite, monkeypatch, how):
    if how == "flag":
        result = suite.runpytest("-p", "no:cacheprovider", "--env", "t", "--expect-version", "")
        words = "*--expect-version is empty*"
    else:
        monkeypatch.setenv("POSTDEPLOY_EXPECT_VERSION", "")
        result = suite.runpytest("-p", "no:cacheprovider", "--env", "t")
        words = "*POSTDEPLOY_EXPECT_VERSION is set but empty*"
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([words])
    assert "Traceback" not in result.stderr.str()
    assert_only_an_incomplete_record(suite)


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ('ca_bundle = "missing-ca.pem"', "api.ca_bundle: CA bundle missing-ca.pem not found"),
        ('ca_bundle = "garbage.pem"', "api.ca_bundle: CA bundle garbage.pem is not a readable PEM"),
    ],
    ids=["missing", "garbage"],
)
def test_a_bad_ca_bundle_stops_the_run_at_start_up_with_one_line(suite, line, words):
    (suite.path / "garbage.pem").write_text("not a certificate\n")
    (suite.path / "environments" / "t.toml").write_text(ENV.replace("[api]\n", f"[api]\n{line}\n"))
    result = suite.runpytest("-p", "no:cacheprovider", "--env", "t")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    err = result.stderr.str()
    assert words in err, err
    assert "Traceback" not in err and "FileNotFoundError" not in err
    assert_only_an_incomplete_record(suite)


def test_start_up_problems_are_all_listed_one_line_each(suite):
    (suite.path / "environments" / "t.toml").write_text(
        ENV.replace('base_url = "http://127.0.0.1:9"', 'base_url = "http:///api"')
        + '\n[changes]\nrepo = "no-such-checkout"\n'
        + '\n[slack]\nwebhook_env = "HOME"\nreport_url = "https://"\n'
    )
    result = suite.runpytest("-p", "no:cacheprovider", "--env", "t")
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stderr.str()
    err = result.stderr.str()
    assert "api.base_url: URL 'http:///api' names no host" in err
    assert "changes.repo: folder no-such-checkout does not exist" in err
    assert "slack.report_url: URL 'https://' names no host" in err
    assert "Traceback" not in err


def test_a_401_login_names_the_test_user_not_a_rollback():
    from postdeploy.checks.smoke import check_login
    from postdeploy.sources.apiclient import Login

    result = check_login(Login(False, 401, 0.05, "POST https://x/api/v1/auth/login answered 401: invalid credentials"))
    assert result.outcome == "failed"
    assert "the credentials of [api.user] were refused (401)" in result.summary
    assert "it may be the test user" in result.summary
    assert result.advice.startswith("first check the synthetic user: [api.user]")


def test_a_login_without_any_answer_is_unreachable_not_a_refusal():
    """A hung or refused connection is the target not answering (kind unreachable), as db_frozen shows."""
    from postdeploy.checks.smoke import check_login
    from postdeploy.sources.apiclient import Login

    detail = "POST https://x/api/v1/auth/login: no answer within 3s (read timeout)"
    result = check_login(Login(False, None, 3.0, detail))
    assert (result.outcome, result.kind) == ("failed", "unreachable")
    assert result.summary == f"login failed: {detail}"
    answered = check_login(Login(False, 500, 0.1, "POST https://x/api/v1/auth/login answered 500"))
    assert answered.outcome == "failed" and answered.kind != "unreachable"


def test_dependants_of_a_failed_root_are_blocked_in_the_record():
    from postdeploy.core import gates
    from postdeploy.run.verdict import decide

    checks = [
        {
            "id": "deploy.running",
            "outcome": "failed",
            "severity": "critical",
            "value": "not running",
            "summary": "pid 7 gone",
        },
        {
            "id": "wait.ready",
            "outcome": "failed",
            "severity": "critical",
            "depends_on": ["process"],
            "summary": "never",
        },
        {
            "id": "auth.login",
            "outcome": "failed",
            "severity": "critical",
            "depends_on": ["process", "service"],
            "summary": "cannot connect",
            "advice": "roll back",
        },
        {
            "id": "db.read",
            "outcome": "failed",
            "severity": "critical",
            "depends_on": gates.closure(["login"]),
            "summary": "no access token",
        },
        {"id": "logs.clean", "outcome": "failed", "severity": "major", "summary": "2 ERROR lines"},
    ]
    gates.relabel(checks)
    assert [c["outcome"] for c in checks] == ["failed", "blocked", "blocked", "blocked", "failed"]
    assert checks[2]["summary"] == "blocked by deploy.running: pid 7 gone" and "advice" not in checks[2]
    assert checks[2]["evidence"]["own result"] == "cannot connect"
    verdict, reasons = decide(checks)
    assert verdict == "rollback"
    assert reasons[0] == "critical check deploy.running failed: pid 7 gone"
    assert reasons[-1] == "3 check(s) blocked by deploy.running: wait.ready, auth.login, db.read"
    # A runtime that could not be asked proves nothing down: nothing is blocked by it.
    checks = [
        {"id": "deploy.running", "outcome": "failed", "severity": "critical", "value": None, "summary": "no runtime"},
        {"id": "wait.ready", "outcome": "passed", "severity": "critical", "depends_on": ["process"]},
        {"id": "health", "outcome": "failed", "severity": "critical", "depends_on": ["process", "service"]},
    ]
    gates.relabel(checks)
    assert checks[2]["outcome"] == "failed"


def test_database_errors_of_the_same_words_have_one_root():
    from postdeploy.core import gates

    words = "cannot connect to the database: connection refused"
    checks = [
        {"id": f"db.{n}", "outcome": "error", "severity": "major", "depends_on": ["database"], "summary": words}
        for n in ("connections", "slow_queries", "long_queries")
    ]
    gates.relabel(checks)
    assert [c["outcome"] for c in checks] == ["error", "blocked", "blocked"]
    assert checks[1]["blocked_by"] == "db.connections"


def test_wrong_synthetic_password_blocks_the_reads_behind_the_login(suite, monkeypatch):
    """Live: a service that refuses the login (401): auth.login names [api.user]; db.read and business.flow are blocked."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"message": "pong"}')

        def do_POST(self):  # noqa: N802
            self.send_response(401)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"detail": "Incorrect email or password"}')

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        (suite.path / "environments" / "t.toml").write_text(
            f'[api]\nbase_url = "http://127.0.0.1:{server.server_address[1]}"\nconnect_timeout = "0.5s"\n'
            '[api.user]\nemail = "synthetic@example.com"\npassword_env = "PD_EV_PW"\n'
        )
        suite.makepyfile(test_ev_flows=(ROOT / "tests_smoke" / "test_first15_flows.py").read_text())
        monkeypatch.setenv("PD_EV_PW", "wrong-password-canary")
        # A subprocess: httpx's first real connection in an in-process run would leave later tests
        # of this session with re-imported httpcore classes (pytester restores sys.modules).
        result, record = run(suite, "-m", "first15", "test_ev_flows.py", subprocess=True)
    finally:
        server.shutdown()
    outcomes = {c["id"]: c for c in record["checks"]}
    assert outcomes["auth.login"]["outcome"] == "failed"
    assert {outcomes[c]["outcome"] for c in ("db.read", "business.flow")} == {"blocked"}
    assert outcomes["db.read"]["summary"].startswith(
        "blocked by auth.login: login failed: the credentials of [api.user]"
    )
    first = record["verdict_reasons"][0]
    assert first.startswith(
        "critical check auth.login failed: login failed: the credentials of [api.user] were refused"
    )
    assert "wrong-password-canary" not in json.dumps(record)


def test_a_start_up_error_leaves_an_incomplete_record_and_verdict_exits_3(suite, capsys):
    """`pytest ... || true; python -m postdeploy verdict` must not report the last success."""
    good, record = run(suite, "-m", "first15")
    assert record["verdict"] == "success"
    before = latest(suite)
    env = suite.path / "environments" / "t.toml"
    env.write_text(ENV + 'ca_bundle = "/nonexistent/ca.pem"\n')
    result, record = run(suite, "-m", "first15")
    assert result.ret == 4
    assert record["verdict"] == "incomplete" and record["checks"] == []
    assert record["verdict_reasons"][0].startswith("no check ran: pytest stopped at start-up (exit 4): ")
    assert "ca_bundle" in record["verdict_reasons"][0]
    assert latest(suite) == before
    assert cli(["verdict", str(suite.path / "reports" / "t")]) == 3
    assert "INCOMPLETE" in capsys.readouterr().out
