"""Issue 11 end to end: every later phase starts by asking whether the release is alive.

With the app killed (`sandbox fault app_down`), first_hour and daily lead with the process:
their first reason is deploy.running, and the checks that need the live app are blocked by it.
"""

from __future__ import annotations

from pathlib import Path

from sandboxrun import Run, Sandbox

# phase -> the checks the dead process must block (each of them needs the live app).
BLOCKED = {
    "first_hour": {
        "wait.ready",
        "input.robust",
        "traffic.routed",
        "resources",
        "endpoints",
        "jobs.schedule",
        "analytics",
        "db.connections",
    },
    "daily": {"wait.ready", "trend", "tls.cert"},
}


def _leads_with_the_process(run: Run, phase: str) -> None:
    first = run.record["verdict_reasons"][0]
    assert first.startswith("critical check deploy.running failed: process "), run.record["verdict_reasons"]
    assert "is not running" in first
    assert run.record["verdict"] == "rollback"
    outcomes = run.outcomes()
    blocked = {k for k, v in outcomes.items() if v == "blocked"}
    assert BLOCKED[phase] <= blocked, f"{phase}: not blocked: {BLOCKED[phase] - blocked}; outcomes {outcomes}"
    assert all(run.check(c)["blocked_by"] == "deploy.running" for c in blocked)
    # Nothing else fails for the same cause with advice of its own. The alerts and the log
    # checks do not need the live app: they judge what the log files and Prometheus hold,
    # which may include what earlier self-tests' faults wrote within their windows.
    independent = {"deploy.running", "morning.health", "logs.errors", "logs.patterns"}
    assert not {k for k, v in outcomes.items() if v in ("failed", "error")} - independent, outcomes
    assert "Traceback" not in run.output


def test_later_phases_lead_with_the_dead_process(box: Sandbox, tmp_path: Path):
    try:
        box.fault("app_down")
        hour = box.run_suite(tmp_path, marks="first_hour")
        daily = box.run_suite(tmp_path, marks="daily")
    finally:
        box.heal()
    _leads_with_the_process(hour, "first_hour")
    _leads_with_the_process(daily, "daily")
    # A dead process costs no bounded ping wait: no API request was sent at all.
    assert hour.record["api_requests"] == 0 and daily.record["api_requests"] == 0
    verdict = box.cli_postdeploy("verdict", str(tmp_path / "local"))
    printed = [line for line in verdict.stdout.splitlines() if line.startswith("  - ")]
    assert verdict.returncode == 2 and "phase daily" in verdict.stdout, verdict.stdout + verdict.stderr
    assert len(printed) <= 3 and "deploy.running" in printed[0], verdict.stdout
    assert "blocked (by deploy.running)" in verdict.stdout
