"""Database checks: connections vs the pool (item 12), slow and long-running queries (15), size (23).

Connections are read from two sources that must tell the same story: the service's
`db_connections_active` gauge (Prometheus) and `pg_stat_activity` (the database itself).
When they disagree badly, or the gauge reads 0 while the database has the app's sessions,
the check says so: a dashboard built on a dead metric is a finding, not a pass.

Every session here is the read-only one of `postdeploy.sources.db.connect`; each query runs in
its own short transaction (pg_stat_activity is a per-transaction snapshot).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg

from postdeploy.checks.advice import advice
from postdeploy.config import DbChecks
from postdeploy.core.durations import human_bytes
from postdeploy.core.errors import TargetError
from postdeploy.core.redaction import redact
from postdeploy.core.results import Result, failed, inconclusive, passed, unreachable
from postdeploy.core.stats import disagree, fit, flat, growth, unchanged_tail
from postdeploy.sources import promqueries
from postdeploy.sources.promql import PromClient, range_step
from postdeploy.sources.sizehistory import SizeRecord, append, read

MIN_POINTS = 5

SESSIONS_SQL = """SELECT
  count(*) FILTER (WHERE datname = current_database() AND (%(app)s = '' OR application_name = %(app)s)
    AND (%(role)s = '' OR usename = %(role)s)) AS app_sessions,
  count(*) AS all_sessions,
  count(*) FILTER (WHERE state = 'active') AS active
FROM pg_stat_activity
WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()"""

# The guide's "long-running queries" query, with the database and application added.
LONGEST_SQL = """SELECT pid, datname, application_name,
  extract(epoch FROM clock_timestamp() - query_start)::float8 AS seconds,
  left(regexp_replace(query, '\\s+', ' ', 'g'), 300) AS query
FROM pg_stat_activity
WHERE state = 'active' AND pid <> pg_backend_pid() AND backend_type = 'client backend'
ORDER BY query_start ASC NULLS LAST
LIMIT 10"""

STATEMENTS_SQL = """SELECT left(regexp_replace(query, '\\s+', ' ', 'g'), 300) AS query, calls,
  mean_exec_time, total_exec_time
FROM pg_stat_statements
WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND userid <> (SELECT oid FROM pg_roles WHERE rolname = current_user)
ORDER BY mean_exec_time DESC
LIMIT 10"""

ENABLE_STATEMENTS = (
    "add pg_stat_statements to shared_preload_libraries in postgresql.conf, restart PostgreSQL, "
    "then run in this database: CREATE EXTENSION IF NOT EXISTS pg_stat_statements;"
)

SIZE_SQL = "SELECT current_database(), pg_database_size(current_database())"
# The guide's table-size query, with identifiers quoted (a mixed-case table name breaks the original).
TABLES_SQL = """SELECT schemaname || '.' || tablename AS name,
  pg_total_relation_size(format('%I.%I', schemaname, tablename)) AS bytes
FROM pg_tables WHERE schemaname = 'public'
ORDER BY bytes DESC LIMIT 10"""


def rows(conn: psycopg.Connection, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
    """Run one read-only query in its own transaction and return its rows."""
    try:
        cur = conn.execute(sql, params)  # type: ignore[arg-type]
        out = cur.fetchall()
        conn.commit()
        return out
    except psycopg.Error:
        try:
            conn.rollback()
        except psycopg.Error:
            pass
        raise


def _db_error(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return redact(f"{type(exc).__name__}: {text}")


def longest_queries(conn: psycopg.Connection) -> list[str]:
    """The ten longest-running active queries, one readable line each."""
    return [
        f"pid {pid} {db}/{app or '-'} running {secs or 0:.1f}s: {redact(q or '')}"
        for pid, db, app, secs, q in rows(conn, LONGEST_SQL)
    ]


def pool_limit(cfg: DbChecks) -> float:
    """80 % (pool_alarm) of pool + overflow: 24 for the service's 10 + 20."""
    return cfg.pool_alarm * (cfg.pool_size + cfg.pool_overflow)


def judge_connections(
    metric: float | None,
    series: list[tuple[float, float]],
    sessions: int,
    cfg: DbChecks,
    *,
    busy: bool,
) -> tuple[list[str], dict[str, Any]]:
    """Return the problems and the numbers of item 12, from readings already taken (pure)."""
    facts: dict[str, Any] = {}
    limit = pool_limit(cfg)
    problems, dead = _metric_problems(metric, series, sessions, cfg, busy=busy)
    if not dead and metric is not None and len(series) >= MIN_POINTS and flat(series):
        facts["note"] = (
            f"{promqueries.DB_CONNECTIONS} did not change over the window ({len(series)} samples at {metric:g}); "
            f"pg_stat_activity agrees ({sessions}), so this reads as a steady pool, not a dead metric"
        )
    # The level is judged on the metric unless it is dead; then on the database's own count.
    level = float(sessions) if dead or metric is None else metric
    facts["level"] = level
    problems += _level_problems(level, cfg, limit)
    trend = fit(series) if len(series) >= MIN_POINTS else None
    if trend is not None:
        ahead = trend.projected(cfg.projection)
        facts["slope"] = f"{trend.slope * 60:+.3f} connections/min over {trend.span:.0f}s ({trend.points} points)"
        facts["projection"] = f"{ahead:.1f} connections in {cfg.projection:g}s at that slope"
        if trend.slope > 0 and ahead >= limit and not dead:
            problems.append(
                f"connections are growing ({trend.slope * 60:+.2f}/min): projected {ahead:.0f} "
                f"in {cfg.projection:g}s, at or above the limit {limit:g}"
            )
    return problems, facts


def _metric_problems(
    metric: float | None, series: list[tuple[float, float]], sessions: int, cfg: DbChecks, *, busy: bool
) -> tuple[list[str], bool]:
    """What is wrong with the connection metric itself, and whether it reads as dead."""
    if metric is None:
        return [f"{promqueries.DB_CONNECTIONS} has no data: the dashboard's connection panel shows nothing"], True
    if metric == 0 and sessions > 0 and busy:
        return [
            f"{promqueries.DB_CONNECTIONS} reads 0 while pg_stat_activity shows {sessions} session(s) of the app: "
            "a dashboard built on a dead metric is a finding"
        ], True
    if not disagree(metric, sessions, cfg.disagree_abs, cfg.disagree_ratio):
        return [], False
    same, span = unchanged_tail(series)
    stuck = ""
    if len(series) >= MIN_POINTS and flat(series):
        stuck = " and it never changed over the window"
    elif same >= MIN_POINTS:
        stuck = f" and it has not changed for the last {span:.0f}s ({same} samples)"
    return [
        f"the sources disagree: {promqueries.DB_CONNECTIONS} {metric:g} vs pg_stat_activity {sessions}{stuck} "
        f"(tolerance max({cfg.disagree_abs}, {cfg.disagree_ratio:.0%}))"
        + ("; a dashboard built on a dead metric is a finding" if stuck else "")
    ], bool(stuck)


def _level_problems(level: float, cfg: DbChecks, limit: float) -> list[str]:
    """The number of connections outside the normal range, or at the pool's alarm level."""
    problems = []
    low, high, decided = cfg.normal_range()
    if not low <= level <= high:
        problems.append(
            f"{level:g} connections is outside the normal range {low:g}-{high:g} (set by {decided}; the pool: "
            f"pool_size {cfg.pool_size} + pool_overflow {cfg.pool_overflow} = {cfg.pool_size + cfg.pool_overflow}, "
            f"alarm at {limit:g}); an idle pool may hold fewer: declare the range relative to the pool with "
            "normal_relative = [0, 1], or lower normal_min"
        )
    if level >= limit:
        problems.append(
            f"{level:g} connections is at or above {cfg.pool_alarm:.0%} of the pool "
            f"({cfg.pool_size} + {cfg.pool_overflow} overflow = {cfg.pool_size + cfg.pool_overflow}, limit {limit:g})"
        )
    return problems


def connections(
    prom: PromClient, job: str, conn: psycopg.Connection, cfg: DbChecks, deployed_at: datetime | None
) -> Result:
    """Item 12: connections in the normal range, below 80 % of the pool, both sources agreeing."""
    now = time.time()
    start = now - cfg.window
    if deployed_at is not None:
        start = max(start, deployed_at.timestamp())
    expr = promqueries.db_connections(job)
    evidence: dict[str, Any] = {
        "query": expr,
        "window": f"{now - start:.0f}s" + (" since the deploy" if deployed_at and start > now - cfg.window else ""),
        "sql": SESSIONS_SQL.replace("\n", " "),
        "normal range": "{:g}-{:g} ({})".format(*cfg.normal_range()),
        "pool limit": f"{pool_limit(cfg):g} ({cfg.pool_alarm:.0%} of {cfg.pool_size} + {cfg.pool_overflow})",
    }
    try:
        metric = prom.value(expr)
        matrix = prom.query_range(expr, start, now, range_step(now - start))
    except TargetError as exc:
        return unreachable(
            f"cannot read {promqueries.DB_CONNECTIONS}: {exc}", evidence=evidence, advice=advice("db.connections")
        )
    try:
        app_sessions, all_sessions, active = rows(
            conn, SESSIONS_SQL, {"app": cfg.application_name, "role": cfg.usename}
        )[0]
    except psycopg.Error as exc:
        return failed(f"cannot read pg_stat_activity: {_db_error(exc)}", evidence=evidence)
    series = matrix[0].points if matrix else []
    evidence[promqueries.DB_CONNECTIONS] = "no data" if metric is None else f"{metric:g}"
    evidence.update(_readings_evidence(cfg, series, app_sessions, all_sessions, active))
    problems, facts = judge_connections(metric, series, app_sessions, cfg, busy=app_sessions > 0)
    evidence.update({k: v for k, v in facts.items() if k != "level"})
    if problems or facts["level"] >= pool_limit(cfg):
        evidence.update(_diagnosis(conn, all_sessions))
    return _connections_result(problems, facts, metric, series, app_sessions, cfg, evidence)


def _readings_evidence(
    cfg: DbChecks, series: list[tuple[float, float]], app_sessions: int, all_sessions: int, active: int
) -> dict[str, str]:
    """The sessions counted (with the filters that chose them) and the samples of the metric."""
    filters = ([f"application_name {cfg.application_name!r}"] if cfg.application_name else []) + (
        [f"role {cfg.usename!r}"] if cfg.usename else []
    )
    who = " and ".join(filters) if filters else "this database (no application_name or usename filter: every client)"
    return {
        "pg_stat_activity": f"{app_sessions} session(s) of {who}; {all_sessions} in all, {active} active",
        "samples": f"{len(series)} in the window"
        + (f", values {min(v for _, v in series):g}-{max(v for _, v in series):g}" if series else ""),
    }


def _diagnosis(conn: psycopg.Connection, all_sessions: int) -> dict[str, str]:
    """The session count and the longest-running queries, attached to a failure."""
    out = {"diagnosis: pg_stat_activity count": str(all_sessions)}
    try:
        for n, line in enumerate(longest_queries(conn), 1):
            out[f"diagnosis: longest query {n}"] = line
    except psycopg.Error as exc:
        out["diagnosis"] = f"cannot list the longest queries: {_db_error(exc)}"
    return out


def _connections_result(
    problems: list[str],
    facts: dict[str, Any],
    metric: float | None,
    series: list[tuple[float, float]],
    app_sessions: int,
    cfg: DbChecks,
    evidence: dict[str, Any],
) -> Result:
    """Failed on a problem; inconclusive without enough samples for the trend; else passed."""
    level = facts["level"]
    bounds = "{:g}-{:g}, < {:g}".format(*cfg.normal_range()[:2], pool_limit(cfg))
    if problems:
        return failed(
            "; ".join(problems), value=level, threshold=bounds, evidence=evidence, advice=advice("db.connections")
        )
    if len(series) < MIN_POINTS:
        return inconclusive(
            f"inconclusive: {len(series)} samples of {promqueries.DB_CONNECTIONS} in the window, need {MIN_POINTS} "
            "to judge the trend",
            value=level,
            threshold=f">= {MIN_POINTS} samples",
            evidence=evidence,
        )
    return passed(
        f"{level:g} connections (metric {metric:g}, pg_stat_activity {app_sessions}), "
        "within {:g}-{:g} and below {:g}; ".format(*cfg.normal_range()[:2], pool_limit(cfg))
        + facts.get("slope", ""),
        value=level,
        threshold=bounds,
        evidence=evidence,
    )


def slow_queries(conn: psycopg.Connection, cfg: DbChecks) -> Result:
    """Item 15: no statement with a mean execution time above the bound; the top 10 attached."""
    bound_ms = cfg.slow_mean * 1000
    evidence: dict[str, Any] = {"sql": STATEMENTS_SQL.replace("\n", " ")}
    try:
        installed = rows(conn, "SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements'")
        top = rows(conn, STATEMENTS_SQL) if installed else None
    except psycopg.Error as exc:
        if "shared_preload_libraries" in str(exc) or "pg_stat_statements" in str(exc):
            top = None
            evidence["error"] = _db_error(exc)
        else:
            return failed(f"cannot read pg_stat_statements: {_db_error(exc)}", evidence=evidence)
    if top is None:
        return inconclusive(
            "pg_stat_statements is not enabled in this database, so slow queries cannot be measured: "
            + ENABLE_STATEMENTS,
            evidence=evidence,
            advice=ENABLE_STATEMENTS,
        )
    if not top:
        return inconclusive(
            "inconclusive: pg_stat_statements has no statement for this database yet (just reset?)",
            evidence=evidence,
        )
    for n, (query, calls, mean, total) in enumerate(top, 1):
        evidence[f"top {n}"] = f"mean {mean:.1f} ms, {calls} calls, total {total:.0f} ms: {redact(query or '')}"
    slow = [(q, m, c) for q, c, m, _ in top if m > bound_ms]
    worst = top[0][2]
    if slow:
        q, m, c = slow[0]
        return failed(
            f"{len(slow)} statement(s) with mean time above {bound_ms:.0f} ms; slowest {m:.0f} ms over {c} calls: "
            f"{redact((q or '')[:160])}",
            value=f"{worst:.0f} ms",
            threshold=f"mean < {bound_ms:.0f} ms",
            evidence=evidence,
            advice=advice("db.slow_queries"),
        )
    return passed(
        f"slowest statement mean {worst:.1f} ms (bound {bound_ms:.0f} ms)",
        value=f"{worst:.1f} ms",
        threshold=f"mean < {bound_ms:.0f} ms",
        evidence=evidence,
    )


def long_queries(conn: psycopg.Connection, cfg: DbChecks) -> Result:
    """No query active for longer than the bound (pg_stat_activity, state active)."""
    evidence: dict[str, Any] = {"sql": LONGEST_SQL.replace("\n", " "), "bound": f"{cfg.long_query:g}s"}
    try:
        found = rows(conn, LONGEST_SQL)
    except psycopg.Error as exc:
        return failed(f"cannot read pg_stat_activity: {_db_error(exc)}", evidence=evidence)
    for n, (pid, db, app, secs, q) in enumerate(found, 1):
        evidence[f"active {n}"] = f"pid {pid} {db}/{app or '-'} running {secs or 0:.1f}s: {redact(q or '')}"
    long = [(pid, secs or 0.0, q) for pid, _, _, secs, q in found if (secs or 0.0) > cfg.long_query]
    longest = max((secs or 0.0 for *_, secs, _ in found), default=0.0)
    if long:
        pid, secs, q = long[0]
        return failed(
            f"{len(long)} active quer(y/ies) running longer than {cfg.long_query:g}s; longest pid {pid} "
            f"for {secs:.1f}s: {redact((q or '')[:160])}",
            value=f"{longest:.1f}s",
            threshold=f"< {cfg.long_query:g}s",
            evidence=evidence,
            advice=advice("db.long_queries"),
        )
    return passed(
        f"{len(found)} active quer(y/ies), the longest {longest:.1f}s (bound {cfg.long_query:g}s)",
        value=f"{longest:.1f}s",
        threshold=f"< {cfg.long_query:g}s",
        evidence=evidence,
    )


def size(conn: psycopg.Connection, cfg: DbChecks, env: str, history_file: Path) -> Result:
    """Item 23: database size and the ten largest tables recorded; growth since the last record bounded."""
    evidence: dict[str, Any] = {
        "sql": SIZE_SQL,
        "tables sql": TABLES_SQL.replace("\n", " "),
        "history": str(history_file),
    }
    try:
        name, total = rows(conn, SIZE_SQL)[0]
        tables = rows(conn, TABLES_SQL)
    except psycopg.Error as exc:
        return failed(f"cannot read the database size: {_db_error(exc)}", evidence=evidence)
    for n, (table, nbytes) in enumerate(tables, 1):
        evidence[f"table {n}"] = f"{table}: {human_bytes(nbytes)}"
    previous = read(history_file, env, name)
    record = SizeRecord(time.time(), env, name, int(total), [{"table": t, "bytes": int(b)} for t, b in tables])
    try:
        append(history_file, record)
    except OSError as exc:
        evidence["history write"] = f"failed: {exc.strerror}"
    shown = f"database {name} is {human_bytes(total)}"
    if not previous:
        # The size and the tables are what this run records; growth needs a second record.
        return passed(
            f"{shown} (recorded); first record of env {env!r}: growth is not judged until the next run",
            value=int(total),
            threshold=f"growth <= {cfg.growth_max:.0%}",
            evidence=evidence,
        )
    last = previous[-1]
    rel = growth(last.size_bytes, total)
    ago = record.epoch - last.epoch
    evidence["previous record"] = f"{human_bytes(last.size_bytes)} {ago:.0f}s ago"
    change = f"{human_bytes(total - last.size_bytes)} ({rel:+.1%})" if rel is not None else "n/a"
    evidence["growth"] = change
    if rel is not None and rel > cfg.growth_max:
        return failed(
            f"{shown}: grew {change} since the previous record {ago:.0f}s ago, above {cfg.growth_max:.0%}",
            value=int(total),
            threshold=f"growth <= {cfg.growth_max:.0%}",
            evidence=evidence,
            advice=advice("db.size"),
        )
    return passed(
        f"{shown}; growth {change} since the previous record {ago:.0f}s ago",
        value=int(total),
        threshold=f"growth <= {cfg.growth_max:.0%}",
        evidence=evidence,
    )


def sql_runner(conn: psycopg.Connection | None, down: str = "") -> Callable[[str], Any]:
    """Run one read-only SQL statement and return the first column of its first row (None without one).

    Without a connection (the database was unreachable: `down` says why) every call raises TargetError."""

    def run(sql: str) -> Any:
        if conn is None:
            raise TargetError(down)
        try:
            with conn.cursor() as cur:
                row = cur.execute(sql).fetchone()  # type: ignore[arg-type]
        except psycopg.Error as exc:
            raise TargetError(f"SQL failed: {str(exc).strip().splitlines()[0]}") from None
        finally:
            conn.rollback()
        return row[0] if row else None

    return run
