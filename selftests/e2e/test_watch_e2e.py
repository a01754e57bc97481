"""End to end: `pytest -m first15 --env local --watch ...` against a real sandbox.

Every wait is bounded and on a condition (a record on disk, a process that ended); the
decision itself is unit-tested in test_watch_units.py.
"""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

from sandboxrun import Sandbox, wait_for

# The rollback self-test's bound on the decision, in seconds after the deploy, of a 2-minute
# window. Measured 2026-11-29 on 2 cores, 8 runs: decided 10.7-17.7 s after the deploy, at
# the 4th to 6th evaluation, on 162-237 requests at 17-21 % (errors_5xx is ~28 % of the
# traffic; the deploy's burst and the suite's own health and readiness calls dilute the first
# seconds). 60 s leaves more than 3x margin for a busy machine.
DECIDED_WITHIN = 60


def _watch(run_record: dict) -> dict:
    assert "watch" in run_record, f"no watch in the record: {sorted(run_record)}"
    return run_record["watch"]


def test_errors_5xx_after_a_heal_is_rolled_back_well_before_the_window_closes(box: Sandbox, tmp_path: Path):
    box.heal()  # a fresh deploy: the window counts from its start
    try:
        box.fault("errors_5xx")
        # The command as an on-call engineer types it (the interval only shortened):
        # the sandbox's own traffic, ~30 % errors, is the evidence; no --watch-traffic.
        run = box.run_suite(tmp_path, "--watch", "2m", "--watch-interval", "3s", timeout=240)
    finally:
        box.heal()
    w = _watch(run.record)
    assert run.record["verdict"] == "rollback", run.record["verdict_reasons"]
    assert w["status"] == "decided" and w["decision"] == "rollback", w["reasons"]
    assert w["decided_at"] and w["decided_after_s"] < DECIDED_WITHIN, w["decided_after_s"]
    evs = w["evaluations"]
    assert evs and evs[-1]["decision"] == "rollback" and evs[-1]["requests"] > 0
    assert all(e["decision"] == "watching" for e in evs[:-1])
    assert {"at", "elapsed", "requests", "rate", "rollback_rate_bound", "decision"} <= set(evs[-1])
    assert not w["traffic"] and evs[-1]["ours"] == 0, w["traffic"]
    err = run.check("error_rate")
    assert err["outcome"] == "failed" and "rollback bound 10%" in err["summary"] + run.text("error_rate")
    assert "decided ROLLBACK" in (run.folder / "record.md").read_text()
    assert "postdeploy-watch" in (run.folder / "report.html").read_text()
    assert run.seconds < 120, f"the run took {run.seconds:.0f}s: the watch did not stop at the decision"
    assert run.returncode == 1 and "Traceback" not in run.output


def test_healthy_watch_succeeds_after_the_window_closes_not_before(box: Sandbox, tmp_path: Path):
    box.heal()
    # With the watch's own paced GETs (--watch-traffic): they are counted apart ("ours").
    run = box.run_suite(tmp_path, "--watch", "40s", "--watch-interval", "5s", "--watch-traffic", "2/s", timeout=180)
    w = _watch(run.record)
    assert run.record["verdict"] == "success", run.record["verdict_reasons"]
    assert w["decision"] == "success" and w["decided_after_s"] >= 40, w
    evs = w["evaluations"]
    assert len(evs) >= 2 and all(e["decision"] == "watching" for e in evs[:-1])
    assert all(e["elapsed"] < 40 for e in evs[:-1]) and evs[-1]["elapsed"] >= 40
    assert evs[-1]["requests"] >= run.record["thresholds"]["min_requests"]
    traffic = w["traffic"]
    assert traffic["sent"] > 0 and traffic["failed"] == 0 and traffic["rate"] == "2/s", traffic
    assert 0 < evs[-1]["ours"] <= traffic["sent"] and evs[-1]["ours"] < evs[-1]["requests"], evs[-1]
    assert "Watch traffic (ours, counted apart)" in (run.folder / "record.md").read_text()
    assert "decided SUCCESS" in run.output and run.returncode == 0


def test_an_interrupted_watch_leaves_an_incomplete_record(box: Sandbox, tmp_path: Path):
    # start_suite gives the child SIGINT back: started in a shell's background, it would ignore Ctrl-C.
    proc = box.start_suite(tmp_path, "-q", "--watch", "2m", "--watch-interval", "2s")

    def watching() -> bool:
        for path in (tmp_path / "local").glob("*-first15/record.json"):
            try:
                return len(json.loads(path.read_text()).get("watch", {}).get("evaluations", [])) >= 1
            except ValueError:  # being written
                return False
        return False

    try:
        wait_for("the watch's first evaluation in record.json", watching, 90)
        proc.send_signal(signal.SIGINT)
        # Bounded: the interrupted run still writes its record, reports and exports.
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    record = json.loads(next((tmp_path / "local").glob("*-first15/record.json")).read_text())
    assert record["verdict"] == "incomplete", record["verdict_reasons"]
    assert record["watch"]["status"] == "interrupted" and record["watch"]["evaluations"]
    assert "Traceback" not in out


def test_watch_usage_errors_are_one_line(box: Sandbox, tmp_path: Path):
    started = time.monotonic()
    for args, words in (
        (["--watch", "soon"], "invalid --watch 'soon'"),
        (["--watch", "1m", "-n", "2"], "cannot be combined with -n"),
        (["--watch-interval", "5s"], "needs --watch DURATION"),
        (["--watch", "1m", "--watch-traffic", "lots"], "write e.g. 2/s"),
    ):
        proc = box.refused(tmp_path, *args)
        assert proc.returncode == 4, (args, proc.stdout[-500:], proc.stderr[-500:])
        assert words in proc.stderr, (args, proc.stderr[-500:])
        assert "Traceback" not in proc.stderr
    assert time.monotonic() - started < 60
