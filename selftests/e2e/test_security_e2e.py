"""End to end: the security and contract smoke against the sandbox over HTTPS, healthy and faulty."""

from __future__ import annotations

from pathlib import Path

import pytest

from sandboxrun import ATTESTED, Run, Sandbox

SECURITY = {"tls.cert", "tls.redirect", "headers.security", "errors.no_leak", "api.surface", "input.robust"}
MARKS = "first15 or first_hour"

# fault -> {check that must fail: words its message must contain ("a|b": either)}
EXPECT: dict[str, dict[str, str]] = {
    "cert_expiring": {"tls.cert": "expires in"},
    "redirect_missing": {"tls.redirect": "not redirected to HTTPS"},
    "headers_missing": {"headers.security": "X-Content-Type-Options missing"},
    "cors_wildcard": {"headers.security": "CORS allows any origin with credentials"},
    "stacktrace_leak": {"errors.no_leak": "a Python traceback"},
    "input_500": {"input.robust": "HTTP 500"},
    "endpoint_removed": {"api.surface": "GET /api/v1/escrow/transactions"},
}


@pytest.fixture(scope="module")
def baseline(box: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A reports folder holding one successful run: the API surface the fault runs compare with."""
    reports = tmp_path_factory.mktemp("security-reports")
    run = box.run_suite(reports, *ATTESTED, marks=MARKS)
    assert run.record["verdict"] == "success", run.output[-3000:]
    return reports


def test_security_checks_pass_on_the_healthy_sandbox_over_https(box: Sandbox, baseline: Path):
    run = box.run_suite(baseline, *ATTESTED, marks=MARKS)
    outcomes = run.outcomes()
    assert {k for k in SECURITY if outcomes.get(k) == "passed"} == SECURITY, outcomes
    assert box.state()["api_url"].startswith("https://")
    assert "valid, expires in" in run.check("tls.cert")["summary"]
    assert "still present" in run.check("api.surface")["summary"]
    # The request budget: input.robust never sends more than its 25, and the report says how many were sent.
    assert 1 <= run.check("input.robust")["requests"] <= 25
    assert f"API requests: {run.record['api_requests']}" in run.output
    assert "API requests sent:" in (run.folder / "report.html").read_text()


@pytest.mark.parametrize("fault", sorted(EXPECT))
def test_security_fault_fails_its_check(box: Sandbox, baseline: Path, fault: str):
    def caught(run: Run) -> bool:
        return all(run.check(c)["outcome"] == "failed" for c in EXPECT[fault])

    try:
        box.fault(fault)
        # The listeners pick a switched fault up on their next connection: at most a retry.
        run = box.run_until(baseline, *ATTESTED, marks=MARKS, done=caught, bound=20)
    finally:
        box.heal()
    for check_id, words in EXPECT[fault].items():
        entry = run.check(check_id)
        assert entry["outcome"] == "failed", f"{fault}: {check_id} is {entry['outcome']}: {entry.get('summary')}"
        assert any(w in run.text(check_id) for w in words.split("|")), f"{fault}: {check_id} says {run.text(check_id)}"
    assert run.check("input.robust")["requests"] <= 25
    # The suite itself did not crash (a quoted leak in the evidence is not a crash of ours).
    assert "INTERNALERROR" not in run.output
    assert "error" not in run.outcomes().values(), run.outcomes()
