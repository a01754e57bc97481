"""Unit tests of the database, log, Sentry-review and capacity logic (no sandbox needed)."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from postdeploy.checks import capacity, logscan
from postdeploy.checks.database import judge_connections, pool_limit
from postdeploy.checks.sentry import error_type, new_types
from postdeploy.config import Capacity, DbChecks, LogChecks, Logs
from postdeploy.core.stats import disagree, fit, flat, growth, per_day, seconds_to_empty, unchanged_tail
from postdeploy.sources.logpatterns import count_patterns, is_error, normalise, pattern_of, top_patterns
from postdeploy.sources.logsource import LogSource, parse_line, parse_lines
from postdeploy.sources.promql import Sample, Series
from postdeploy.sources.sizehistory import SizeRecord, append, parse, read

# -- trends ------------------------------------------------------------------------------


def test_fit_recovers_a_straight_line():
    trend = fit([(t, 5 + 0.5 * t) for t in range(10)])
    assert trend is not None
    assert trend.slope == pytest.approx(0.5)
    assert trend.last == pytest.approx(9.5)
    assert trend.projected(10) == pytest.approx(14.5)
    assert trend.points == 10 and trend.span == 9


def test_fit_needs_two_distinct_times_and_skips_nan():
    assert fit([]) is None
    assert fit([(1.0, 2.0)]) is None
    assert fit([(1.0, 2.0), (1.0, 3.0)]) is None
    trend = fit([(0.0, 1.0), (1.0, float("nan")), (2.0, 3.0)])
    assert trend is not None and trend.slope == pytest.approx(1.0)


def test_one_spike_does_not_make_a_leak():
    points = [(float(t), 5.0) for t in range(60)]
    points[30] = (30.0, 29.0)
    trend = fit(points)
    assert trend is not None and abs(trend.slope) < 0.05


def test_unchanged_tail():
    assert unchanged_tail([]) == (0, 0.0)
    assert unchanged_tail([(0.0, 1.0), (1.0, 2.0), (2.0, 2.0), (4.0, 2.0)]) == (3, 3.0)


def test_flat_and_time_to_empty():
    assert flat([(0, 5.0), (1, 5.0)]) and not flat([(0, 5.0), (1, 6.0)])
    assert seconds_to_empty(100.0, -10.0) == pytest.approx(10.0)
    assert seconds_to_empty(100.0, 0.0) is None and seconds_to_empty(100.0, 3.0) is None


def test_disagreement_rule_and_growth():
    assert not disagree(5, 5, 3, 0.5)
    assert not disagree(5, 7, 3, 0.5)  # within 3
    assert disagree(0, 5, 3, 0.5)
    assert not disagree(20, 28, 3, 0.5)  # within 50 % of the larger
    assert disagree(2, 28, 3, 0.5)
    assert growth(100, 125) == pytest.approx(0.25) and growth(0, 5) is None
    assert per_day(10, 3600) == pytest.approx(240) and per_day(10, 0) is None


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.floats(-1e9, 1e9, allow_nan=False),
            st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-(10**6), 10**6)),
        ),
        max_size=30,
    )
)
def test_fit_never_raises_and_a_constant_has_no_slope(points):
    trend = fit(points)
    if trend is not None:
        assert trend.points >= 2
    const = fit([(float(t), 7.0) for t in range(len(points) + 2)])
    assert const is not None and const.slope == pytest.approx(0.0)


# -- connections ---------------------------------------------------------------------------

CFG = DbChecks(projection=3600.0)
STEADY = [(float(t), 5.0) for t in range(10)]


def test_healthy_pool_has_no_problem():
    problems, facts = judge_connections(5.0, STEADY, 5, CFG, busy=True)
    assert problems == [] and facts["level"] == 5.0 and "slope" in facts
    assert pool_limit(CFG) == pytest.approx(24)


def test_zero_metric_while_database_busy_is_a_dead_metric():
    problems, facts = judge_connections(0.0, [(float(t), 0.0) for t in range(10)], 5, CFG, busy=True)
    assert any("dead metric" in p for p in problems)
    assert facts["level"] == 5.0  # judged on the database's own count


def test_flat_metric_that_disagrees_is_dead_and_one_that_agrees_is_not():
    problems, _ = judge_connections(12.0, [(float(t), 12.0) for t in range(10)], 2, CFG, busy=True)
    assert any("never changed" in p and "dead metric" in p for p in problems)
    stuck_late = [(float(t), 5.0 + t) for t in range(5)] + [(float(t), 14.0) for t in range(5, 15)]
    problems, _ = judge_connections(14.0, stuck_late, 2, CFG, busy=True)
    assert any("has not changed for the last 9s (10 samples)" in p and "dead metric" in p for p in problems)
    problems, facts = judge_connections(5.0, STEADY, 6, CFG, busy=True)
    assert problems == [] and "steady pool" in facts["note"]


def test_pool_exhaustion_and_growth():
    problems, _ = judge_connections(27.0, [(float(t), 27.0) for t in range(10)], 27, CFG, busy=True)
    assert any("80% of the pool" in p for p in problems) and any("outside the normal range" in p for p in problems)
    rising = [(float(t * 60), 5.0 + t) for t in range(10)]  # +1 per minute, at 14 now
    problems, facts = judge_connections(14.0, rising, 14, CFG, busy=True)
    assert any("growing" in p for p in problems) and "projection" in facts


def test_missing_metric_is_a_finding_not_a_pass():
    problems, _ = judge_connections(None, [], 5, CFG, busy=True)
    assert any("no data" in p for p in problems)


# -- log patterns ----------------------------------------------------------------------------


def test_normalise_replaces_variable_parts():
    a = normalise("timeout after 31 s for wallet 6f1c2a9e-8d7b-4c3a-9e2f-1a2b3c4d5e6f from 10.0.0.7:5432")
    b = normalise("timeout after 29 s for wallet 0b1c2a9e-8d7b-4c3a-9e2f-1a2b3c4d5e6f from 10.0.0.8:5432")
    assert a == b == "timeout after <n> s for wallet <uuid> from <ip>"
    assert normalise("KeyError: 'fincra_reference'") == "KeyError: '<s>'"
    assert normalise("") == "<empty>"
    assert len(normalise("x" * 1000)) == 160


def test_top_patterns_counts_and_orders():
    lines = [parse_line(f'{{"levelname": "ERROR", "message": "db timeout after {n} s"}}') for n in range(5)]
    lines += [parse_line('{"levelname": "ERROR", "message": "Connection refused"}')] * 2
    lines += [parse_line("2026-11-27 01:28:06 - app.main - CRITICAL - disk full")]
    top = top_patterns(lines, 2)
    assert top == [("ERROR db timeout after <n> s", 5), ("ERROR Connection refused", 2)]


def test_error_lines_and_guide_patterns():
    info = parse_line('{"levelname": "INFO", "message": "retrying after error"}')
    err = parse_line('{"levelname": "ERROR", "message": "x"}')
    trace = parse_line("Traceback (most recent call last):")
    plain = parse_line("all good")
    assert [is_error(x) for x in (info, err, trace, plain)] == [False, True, True, False]
    access = parse_line('INFO:     127.0.0.1:5 - "GET /x HTTP/1.1" 500 Internal Server Error')
    refused = parse_line('{"levelname": "ERROR", "message": "[Errno 111] Connection REFUSED"}')
    counts = count_patterns([access, refused, info], ["connection refused", "timeout", " 500"])
    assert counts == {"connection refused": 1, "timeout": 0, " 500": 1}


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.one_of(st.text(), st.binary().map(lambda b: b.decode("utf-8", "replace"))))
def test_parser_and_normaliser_survive_garbage(text):
    for line in parse_lines(text.splitlines() or [text]):
        assert isinstance(normalise(line.message), str)
        assert isinstance(pattern_of(line), str)
        is_error(line)
    count_patterns([parse_line(text)], ["timeout", " 500", ""])


@settings(max_examples=100, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["levelname", "message", "asctime", "level"]),
        st.one_of(st.none(), st.integers(), st.text(), st.lists(st.integers())),
    )
)
def test_json_lines_with_odd_fields_do_not_crash(rec):
    import json

    line = parse_line(json.dumps(rec))
    assert isinstance(pattern_of(line), str)


def _source(path: Path) -> LogSource:
    return LogSource(Logs(kind="file", path=str(path)))


def test_non_utf8_lines_are_read_and_counted(tmp_path):
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")
    log = tmp_path / "app.log"
    log.write_bytes(
        f'{{"asctime": "{now}", "levelname": "ERROR", "message": "timeout \xff\xfe"}}\n'.encode("latin-1")
        + b"\xff\xfe garbage \x00 line\n"
    )
    result = logscan.errors(_source(log), None, LogChecks(errors_max=0))
    assert result.outcome == "failed" and "'timeout': 1" in result.summary


def test_missing_log_file_is_a_clear_failure(tmp_path):
    result = logscan.errors(_source(tmp_path / "gone.log"), None, LogChecks())
    assert result.outcome == "failed" and "cannot read the logs" in result.summary


def test_log_file_disappearing_between_reads_does_not_crash(tmp_path):
    log = tmp_path / "app.log"
    log.write_text('{"levelname": "ERROR", "message": "x"}\n')
    fh = open(log, encoding="utf-8", errors="replace")  # noqa: SIM115 - held open across the unlink
    os.unlink(log)
    assert fh.readlines()  # an open file survives its unlink
    fh.close()
    assert logscan.patterns(_source(log), LogChecks()).outcome == "failed"


def test_empty_window_is_inconclusive(tmp_path):
    log = tmp_path / "app.log"
    log.write_text('{"asctime": "2001-01-01 00:00:00", "levelname": "ERROR", "message": "old"}\n')
    assert logscan.errors(_source(log), None, LogChecks()).outcome == "inconclusive"


# -- size history ----------------------------------------------------------------------------


def test_history_round_trip_skips_garbage_and_other_envs(tmp_path):
    path = tmp_path / "local" / "history.jsonl"
    append(path, SizeRecord(100.0, "local", "amani", 1000, [{"table": "public.users", "bytes": 10}]))
    with open(path, "a", encoding="utf-8") as fh:
        fh.write('{"kind": "db.size", "env": "prod", "database": "amani", "epoch": 1, "size_bytes": 5}\n')
        fh.write('not json\n{"kind": "db.size", "env": "local", "database": "amani", "epoch": 50\n')
        fh.write('{"kind": "db.size", "env": "local", "database": "amani", "epoch": 50, "size_bytes": true}\n')
    append(path, SizeRecord(50.0, "local", "amani", 900))
    got = read(path, "local", "amani")
    assert [(r.epoch, r.size_bytes) for r in got] == [(50.0, 900), (100.0, 1000)]
    assert read(tmp_path / "none.jsonl", "local", "amani") == []
    assert parse("", "local", "amani") == []


# -- Sentry review -----------------------------------------------------------------------------

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def _issue(kind: str, count: str, minutes_ago: float, level: str = "error") -> dict:
    first = (NOW - timedelta(minutes=minutes_ago)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return {
        "id": "1",
        "shortId": "A-1",
        "title": f"{kind}: x",
        "level": level,
        "count": count,
        "firstSeen": first,
        "metadata": {"type": kind},
    }


def test_new_types_exclude_known_ones_and_floor_the_age():
    fresh = [_issue("TimeoutError", "30", 1), _issue("ValueError", "500", 1), _issue("Warn", "99", 1, "warning")]
    known = [_issue("ValueError", "3", 60 * 24 * 3)]
    found = new_types(fresh, known, NOW, min_age=3600)
    assert [(k, e) for k, e, *_ in found] == [("TimeoutError", 30)]
    assert found[0][3] == pytest.approx(30.0)  # 30 events over at least one hour
    found = new_types([_issue("TimeoutError", "30", 120)], [], NOW, min_age=60)
    assert found[0][3] == pytest.approx(15.0)


def test_error_type_falls_back_to_the_title():
    assert error_type({"title": "OperationalError: pool exhausted"}) == "OperationalError"
    assert error_type({"metadata": {"type": "KeyError"}, "title": "x"}) == "KeyError"
    assert error_type({}) == "?"


# -- capacity (disk) ---------------------------------------------------------------------------


class FakeProm:
    def __init__(self, points, size):
        self.points, self.size = points, size

    def query_range(self, expr, start, end, step):
        return [Series({"mountpoint": "/data", "device": "/dev/x"}, self.points)] if self.points else []

    def query(self, expr):
        return [Sample({"mountpoint": "/data", "device": "/dev/x"}, self.size)]


def test_disk_projection():
    cfg = Capacity(mountpoint="/data", horizon=30 * 86400.0)
    gb = 1024.0**3
    falling = [(float(t), 50 * gb - t * 1e6) for t in range(0, 60, 5)]  # 1 MB/s: ~0.6 days
    problems, ev, free = capacity.disk_outlook(FakeProm(falling, 100 * gb), cfg, 60.0)
    assert any("projected to fill" in p for p in problems) and free is not None
    steady = [(float(t), 50 * gb) for t in range(0, 60, 5)]
    assert capacity.disk_outlook(FakeProm(steady, 100 * gb), cfg, 60.0)[0] == []
    nearly_full = [(float(t), 5 * gb) for t in range(0, 60, 5)]
    assert any("below 10%" in p for p in capacity.disk_outlook(FakeProm(nearly_full, 100 * gb), cfg, 60.0)[0])
    assert any("no data" in p for p in capacity.disk_outlook(FakeProm([], 100 * gb), cfg, 60.0)[0])


# -- pg_stat_statements missing, without a database ------------------------------------------


class FakeConn:
    """Answers the queries of postdeploy.checks.database from a table of (SQL fragment -> rows or error)."""

    def __init__(self, answers):
        self.answers = answers

    def execute(self, sql, params=None):
        for fragment, answer in self.answers.items():
            if fragment in sql:
                if isinstance(answer, Exception):
                    raise answer
                self._rows = answer
                return self
        raise AssertionError(f"unexpected SQL {sql}")

    def fetchall(self):
        return self._rows

    def commit(self):
        pass

    def rollback(self):
        pass


def test_missing_pg_stat_statements_says_how_to_enable_it():
    from postdeploy.checks.database import slow_queries

    result = slow_queries(FakeConn({"pg_extension": []}), DbChecks())
    assert result.outcome == "inconclusive"
    assert "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" in result.summary
    assert "shared_preload_libraries" in result.summary


def test_extension_created_but_not_preloaded_is_reported_the_same_way():
    import psycopg

    from postdeploy.checks.database import slow_queries

    err = psycopg.errors.ObjectNotInPrerequisiteState(
        'pg_stat_statements must be loaded via "shared_preload_libraries"'
    )
    result = slow_queries(FakeConn({"pg_extension": [(1,)], "FROM pg_stat_statements": err}), DbChecks())
    assert result.outcome == "inconclusive" and "CREATE EXTENSION" in result.summary
    assert "shared_preload_libraries" in result.evidence["error"]


def test_slow_statement_fails_with_its_sql_and_mean():
    from postdeploy.checks.database import slow_queries

    top = [("SELECT pg_sleep($1)", 3, 1204.5, 3613.5), ("SELECT 1", 100, 0.1, 10.0)]
    result = slow_queries(FakeConn({"pg_extension": [(1,)], "FROM pg_stat_statements": top}), DbChecks())
    assert result.outcome == "failed" and ("1204 ms" in result.summary or "1205 ms" in result.summary)
    assert "SELECT pg_sleep" in result.summary and "top 2" in result.evidence


@settings(max_examples=60, deadline=None)
@given(st.lists(st.binary(max_size=200), max_size=20))
def test_log_checks_on_a_file_of_garbage_never_raise(chunks):
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        log = Path(folder) / "app.log"
        log.write_bytes(b"\n".join(chunks))
        for result in (logscan.errors(_source(log), None, LogChecks()), logscan.patterns(_source(log), LogChecks())):
            assert result.outcome in ("passed", "failed", "inconclusive")
