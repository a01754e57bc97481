"""End to end: the database, log, Sentry-review and capacity checks against a real sandbox.

The checks are selected by file (other checks share their phases), and read back from
record.json by id. The healthy run comes first: error_burst and disk_filling leave their marks in the
1-minute pattern window and the 30-second disk window after a heal.
"""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

import pytest

from sandboxrun import Run, Sandbox, backdate_size_history, wait_for

MARKS = "first_hour or first_24h or daily or weekly"
FILES = {
    "db": "tests_db/test_first_hour_db.py",
    "size": "tests_db/test_first_24h_db.py",
    "capacity": "tests_db/test_weekly_capacity.py",
    "logs": "tests_smoke/test_log_analysis.py",
    "sentry": "tests_integrations/test_first_24h_sentry.py",
}
OURS = {
    "db.connections",
    "db.slow_queries",
    "db.long_queries",
    "db.size",
    "capacity",
    "logs.errors",
    "logs.patterns",
    "sentry.review",
}

# Faults that concern different checks are injected together (one heal instead of five):
# each check's words below are specific to its own fault. The two that concern
# db.connections run alone.
# group -> {check: words its record must all contain}; every fault of the group is on.
GROUPS: dict[str, dict[str, str]] = {
    "long_query,slow_query,sentry_new_type,error_burst,disk_filling": {
        "db.long_queries": "running longer than 2s|pg_sleep(3600)",
        "db.slow_queries": "mean time above 1000 ms|pg_sleep",
        "sentry.review": "TimeoutError|events/h|new error type",
        "logs.errors": "'connection refused': 40|'timeout': 40|' 500': 40|above the bound 5",
        "logs.patterns": "above the bound 100|Connection refused",
        "capacity": "projected to fill|node_filesystem_avail_bytes",
    },
    "connection_leak": {"db.connections": "80% of the pool|27 connections|pg_stat_activity count"},
    "stuck_metric": {"db.connections": "dead metric|db_connections_active reads 0|pg_stat_activity shows"},
}
# How long a fault may take to show (traffic must call the slowed endpoint, the disk metric
# fall for a few scrapes, the gauge be scraped twice): the runs repeat until it shows.
BOUND = 60.0


def run(box: Sandbox, reports: Path, *files: str) -> Run:
    return box.run_suite(reports, *(FILES[f] for f in files), marks=MARKS)


def _samples_since_deploy(box: Sandbox) -> float:
    st = box.state()
    age = max(1, int(time.time() - datetime.fromisoformat(st["deployed_at"]).timestamp()))
    return box.promql(f'count_over_time(db_connections_active{{job="{st["prometheus_job"]}"}}[{age}s])') or 0.0


def test_healthy_sandbox_passes_the_checks(box: Sandbox, tmp_path: Path):
    # The connection trend needs 5 samples since the last (re)deploy: the live app must be scraped.
    wait_for("5 samples of db_connections_active since the deploy", lambda: _samples_since_deploy(box) >= 5, 60)
    first = run(box, tmp_path, *FILES)
    assert set(first.outcomes()) == OURS, first.outcomes()
    # The first db.size record has nothing to compare with; capacity needs a span of history.
    assert first.outcomes()["capacity"] == "inconclusive", first.text("capacity")
    assert "spans" in first.check("capacity")["summary"]
    assert "first record" in first.check("db.size")["summary"]
    # capacity: min_span 3s of history in local.toml, made by dating the first record back.
    backdate_size_history(tmp_path, 60)
    second = run(box, tmp_path, *FILES)
    assert {k for k, v in second.outcomes().items() if v == "passed"} == OURS, second.output[-4000:]
    assert second.returncode == 0
    # The evidence: both sources, the slope, the SQL, the history file, the patterns.
    conn = second.text("db.connections")
    assert "db_connections_active" in conn and "pg_stat_activity" in conn and "slope" in conn
    assert "pg_stat_statements" in second.text("db.slow_queries")
    assert "previous record" in second.text("db.size")
    history = tmp_path / "local" / "history.jsonl"
    assert len(history.read_text().splitlines()) == 2  # one line per db.size run
    assert "database growth" in second.text("capacity") and "node_filesystem_avail_bytes" in second.text("capacity")
    assert "'connection refused': 0" in second.check("logs.errors")["summary"]
    assert "known types" in second.text("sentry.review")


@pytest.mark.parametrize("group", list(GROUPS))
def test_fault_fails_its_check(box: Sandbox, tmp_path: Path, group: str):
    expected = GROUPS[group]
    for fault in group.split(","):
        proc = box.cli("fault", fault)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    files = (FILES if "," in group else ("db",))

    def caught(result: Run) -> bool:
        return all(result.check(c)["outcome"] == "failed" for c in expected)

    try:
        result = box.run_until(tmp_path, *(FILES[f] for f in files), marks=MARKS, done=caught, bound=BOUND)
    finally:
        healed = box.cli("heal", timeout=120)
        assert healed.returncode == 0, healed.stdout + healed.stderr
    for check_id, words in expected.items():
        assert result.check(check_id)["outcome"] == "failed", f"{group}: {check_id}: {result.text(check_id)}"
        missing = [w for w in words.split("|") if w not in result.text(check_id)]
        assert not missing, f"{group}: {check_id} lacks {missing}: {result.text(check_id)}"
    assert result.returncode == 1
    assert "Traceback" not in result.output
