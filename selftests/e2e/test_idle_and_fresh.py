"""Idle pools and fresh environments: db.connections' role filter and pool-relative range;
checks that need history say so, and how to get it, on an environment that has none."""

from __future__ import annotations

from pathlib import Path

import pytest

from postdeploy.checks import baseline, capacity, database, firsthour
from postdeploy.config import Baseline, Capacity, DbChecks, Thresholds, load_environment
from postdeploy.core.errors import ConfigError
from postdeploy.sources.db import connect
from postdeploy.sources.promql import PromClient
from sandbox.common.state import DB_APP_USER
from sandboxrun import ROOT, Sandbox

HOW = "run pre_deploy before deploying"
IDLE = [(float(t), 1.0) for t in range(10)]


def test_an_idle_pool_of_one_fails_the_guides_range_and_says_what_decides():
    problems, _ = database.judge_connections(1.0, IDLE, 1, DbChecks(), busy=True)
    (problem,) = problems
    assert "1 connections is outside the normal range 5-20" in problem
    assert "set by [db_checks] normal_min/normal_max" in problem
    assert "pool_size 10 + pool_overflow 20 = 30, alarm at 24" in problem
    assert "normal_relative" in problem


@pytest.mark.parametrize("cfg", [DbChecks(normal_relative=[0.0, 1.0]), DbChecks(normal_min=1)])
def test_an_idle_pool_of_one_passes_a_relative_or_declared_range(cfg: DbChecks):
    problems, facts = database.judge_connections(1.0, IDLE, 1, cfg, busy=True)
    assert problems == [] and facts["level"] == 1.0


def test_a_relative_range_follows_the_pool_and_names_itself():
    cfg = DbChecks(pool_size=4, pool_overflow=2, normal_relative=[0.25, 1.5])
    assert cfg.normal_range()[:2] == (1.0, 6.0)
    problems, _ = database.judge_connections(0.0, [(float(t), 0.0) for t in range(10)], 0, cfg, busy=False)
    assert any(
        "outside the normal range 1-6 (set by [db_checks] normal_relative = [0.25, 1.5] x pool_size 4" in p
        for p in problems
    )


@pytest.mark.parametrize("rel", ["[1.0]", "[2.0, 1.0]", "[-1.0, 1.0]"])
def test_a_bad_relative_range_is_one_line(tmp_path: Path, rel: str):
    (tmp_path / "environments").mkdir()
    (tmp_path / "environments" / "t.toml").write_text(
        f'[api]\nbase_url = "http://127.0.0.1:1"\n[db_checks]\nnormal_relative = {rel}\n'
    )
    with pytest.raises(ConfigError, match="db_checks: normal_relative must be"):
        load_environment("t", tmp_path)


def test_the_role_filter_counts_the_apps_sessions_on_the_real_database(box: Sandbox, monkeypatch):
    """The sandbox's app names its sessions; a production app may not: filter by its role instead."""
    monkeypatch.setenv("POSTDEPLOY_SANDBOX_DIR", str(box.folder))
    target = load_environment("local", ROOT)
    assert target.database is not None and target.prometheus is not None
    conn = connect(target.database)
    prom = PromClient(target.prometheus)
    try:
        by_role = DbChecks(application_name="", usename=DB_APP_USER, normal_relative=[0.0, 3.0], window=30.0)  # type: ignore[arg-type]
        result = database.connections(prom, target.prometheus.job, conn, by_role, None)
        assert "of role 'amani'" in result.evidence["pg_stat_activity"], result.evidence
        sessions = int(result.evidence["pg_stat_activity"].split(" ")[0])
        assert sessions >= 1, result.evidence
        nobody = DbChecks(application_name="", usename="no_such_role", window=30.0)  # type: ignore[arg-type]
        other = database.connections(prom, target.prometheus.job, conn, nobody, None)
        assert other.evidence["pg_stat_activity"].startswith("0 session(s) of role 'no_such_role'"), other.evidence
    finally:
        conn.close()
        prom.close()


# -- a first run: no history ------------------------------------------------------------------
def test_traffic_routed_without_a_baseline_says_how_to_get_one():
    result = firsthour.traffic_routed(None, "amani", 300.0, None, "same window 1d ago", Thresholds())  # type: ignore[arg-type]
    assert result.outcome == "inconclusive" and HOW in result.summary and "a day of data" in result.summary


def test_baseline_compare_and_trend_without_history_say_how_to_get_it():
    now = {"requests": 600.0, "request_rate": 10.0, "p95": 0.05, "error_rate": 0.0, "window_s": 60}
    empty = {"requests": 0.0, "request_rate": None, "p95": None, "error_rate": None, "window_s": 60}
    for tolerance in (None, 0.3):  # baseline.compare, then trend
        result = baseline.compare(now, empty, "offset 1d", Baseline(), Thresholds(), "trend", tolerance=tolerance)
        assert result.outcome == "inconclusive" and HOW in result.summary, result.summary


def test_capacity_without_size_history_says_how_to_get_it(tmp_path: Path):
    class Conn:
        def execute(self, sql, params=None):
            return self

        def fetchall(self):
            return [("amani", 8_000_000)]

        def commit(self):
            pass

    problems, _ = capacity.db_outlook(Conn(), Capacity(), "local", tmp_path / "history.jsonl", 1e9, None)  # type: ignore[arg-type]
    assert any("no history for this environment yet" in p and "a day of data" in p for p in problems), problems
