"""End to end: `--watch` in the phases after first15, against a real sandbox.

first_hour's checks are called again every interval (postdeploy/pytestplugin/rerun.py); a
fault injected in the middle of the watch ends it `issues` once two evaluations in a row
have failed. daily's window slides, so its watch counts from its own start. Every wait is
bounded and on a condition (a record on disk, a process that ended). About 90 s in all.
"""

from __future__ import annotations

import json
from pathlib import Path

from sandboxrun import Sandbox, wait_for

WINDOW = 150.0


def _evaluations(reports: Path, phase: str) -> list[dict]:
    for path in (reports / "local").glob(f"*-{phase}/record.json"):
        try:
            return json.loads(path.read_text()).get("watch", {}).get("evaluations", [])
        except ValueError:  # being written
            return []
    return []


def test_a_fault_in_the_middle_of_a_first_hour_watch_ends_it_issues(box: Sandbox, tmp_path: Path):
    box.heal()  # a fresh deploy: the window counts from its start
    # Not -q: the progress lines (one per evaluation off a terminal) are part of what is tested.
    args = ("--watch", f"{WINDOW:.0f}s", "--watch-interval", "5s", "-p", "no:cacheprovider")
    proc = box.start_suite(tmp_path, *args, marks="first_hour")
    try:
        wait_for("the watch's second evaluation", lambda: len(_evaluations(tmp_path, "first_hour")) >= 2, 120)
        box.fault("connection_leak")
        out, _ = proc.communicate(timeout=WINDOW + 60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        box.heal()
    record = json.loads(next((tmp_path / "local").glob("*-first_hour/record.json")).read_text())
    w = record["watch"]
    assert w["decision"] == "issues" and w["status"] == "decided", w["reasons"]
    assert w["decided_after_s"] < WINDOW, "the watch ran to its close instead of deciding"
    assert len(w["reasons"]) == 1 and w["reasons"][0].startswith("db.connections:"), w["reasons"]
    assert "(failed 2 evaluations in a row)" in w["reasons"][0]
    evs = w["evaluations"]
    assert all(e["decision"] == "watching" for e in evs[:-1]) and evs[-1]["streaks"]["db.connections"] == 2
    assert evs[0]["checks"]["db.connections"] == "passed", evs[0]["checks"]  # healthy before the fault
    assert len(evs[0]["checks"]) >= 6, evs[0]["checks"]  # the phase's checks, not one
    assert record["verdict"] == "issues", record["verdict_reasons"]
    assert any("db.connections" in r for r in record["verdict_reasons"]), record["verdict_reasons"]
    conn = next(c for c in record["checks"] if c["id"] == "db.connections")
    assert conn["outcome"] == "failed" and "decided ISSUES" in conn["evidence"]["watch"]
    assert "failing: db.connections x1" in out and "Traceback" not in out


def test_a_daily_watch_counts_from_its_start_and_succeeds_at_the_close(box: Sandbox, tmp_path: Path):
    run = box.run_suite(tmp_path, "--watch", "15s", "--watch-interval", "5s", marks="daily", timeout=120)
    w = run.record["watch"]
    assert w["anchor"] == "the start of the watch" and w["decision"] == "success", w
    assert w["decided_after_s"] >= 15 and len(w["evaluations"]) >= 3
    assert all(e["decision"] == "watching" for e in w["evaluations"][:-1])
    assert set(w["evaluations"][0]["checks"]) == {"trend", "morning.health", "logs.patterns"}
    assert run.record["verdict"] == "success", run.record["verdict_reasons"]
    assert "after the start of the watch" in run.output


def test_a_phase_without_watched_checks_refuses_the_watch_in_one_line(box: Sandbox, tmp_path: Path):
    proc = box.refused(tmp_path, "--watch", "1m", marks="pre_deploy")
    assert proc.returncode == 4 and "Traceback" not in proc.stderr
    assert "phase pre_deploy has no watched checks: run it with -m first15, first_hour" in proc.stderr


def test_a_watch_with_every_check_blocked_does_not_wait_out_its_window(box: Sandbox, tmp_path: Path):
    box.fault("app_down")
    try:
        run = box.run_suite(tmp_path, "--watch", "5m", "--watch-interval", "5s", marks="first_hour", timeout=120)
    finally:
        box.heal()
    assert run.record["watch"]["status"] == "not run", run.record["watch"]
    assert run.record["verdict"] == "rollback", run.record["verdict_reasons"]
    assert "watch: did not run: no deploy time: deploy.running failed; the watched checks ran once" in run.output
    assert [c["id"] for c in run.record["checks"] if c["outcome"] == "error"] == [] and "--watch needs" not in run.output
    assert run.seconds < 120 and "Traceback" not in run.output
