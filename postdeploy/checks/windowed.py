"""The Prometheus checks put together: each reads its window since the deploy (settled first,
inconclusive while too young), judges it, and attaches the diagnosis to a result that did not pass.

`fixture` returns a client by fixture name ("prom", "sentry", "db"), asked for only when needed:
the glue (the `check` fixture) resolves it, so these are plain functions that return a Result.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from postdeploy.checks import baseline, database, diagnostics, firsthour, metrics
from postdeploy.config import Environment
from postdeploy.core.durations import human
from postdeploy.core.errors import TargetError
from postdeploy.core.results import Result, failed
from postdeploy.run.pastruns import History
from postdeploy.sources.promql import PromClient

Fixture = Callable[[str], Any]


def _job(env: Environment) -> str:
    assert env.prometheus is not None, "asked only by checks that have the prom fixture"
    return env.prometheus.job


# -- first 15 minutes, items 5-6 ------------------------------------------------------------------
def error_rate(prom: PromClient, env: Environment, deployed_at: datetime | None, fixture: Fixture) -> Result:
    """Item 5: 5xx answers and unhandled exceptions since the deploy, below the bound."""
    window = metrics.window_since(deployed_at, time.time(), env.windows.first15)
    result = metrics.error_rate(prom, _job(env), window, env.thresholds)
    return diagnostics.attach(result, "errors", fixture, env, window)


def latency_p95(prom: PromClient, env: Environment, deployed_at: datetime | None, fixture: Fixture) -> Result:
    """Item 6: the 95th percentile response time since the deploy, below the bound."""
    window = metrics.window_since(deployed_at, time.time(), env.windows.first15)
    result = metrics.latency_p95(prom, _job(env), window, env.thresholds)
    return diagnostics.attach(result, "latency", fixture, env, window.seconds)


# -- first hour, items 11-14 and 18 ---------------------------------------------------------------
def traffic_routed(prom: PromClient, env: Environment, history: History) -> Result:
    """Item 11: the request rate against the pre_deploy baseline (else the same window `offset` ago)."""
    seconds = env.windows.rate
    found = baseline.from_history(history)
    if found is not None:
        source, base = found[0], found[1].get("request_rate")
    else:
        offset = env.baseline.offset
        # At least the first-hour window: a history scraped less often than the rate window needs it.
        query = firsthour.request_rate_query(_job(env), max(seconds, env.windows.first_hour), offset)
        try:
            base = prom.value(query)
        except TargetError as exc:
            return failed(f"cannot read the baseline request rate: {exc}", evidence={"query": query})
        source = f"no pre_deploy baseline in the record history; same window {offset} ago: {query}"
    return firsthour.traffic_routed(prom, _job(env), seconds, base, source, env.thresholds)


def db_connections(prom: PromClient, conn: Any, env: Environment, deployed_at: datetime | None) -> Result:
    """Item 12: connections from both sources; right after a deploy, waits (at most windows.max_wait)
    for windows.min_window of samples first."""
    firsthour.settled_window(deployed_at, env.db_checks.window, env.windows)
    return database.connections(prom, _job(env), conn, env.db_checks, deployed_at)


def resources(prom: PromClient, env: Environment, deployed_at: datetime | None, fixture: Fixture) -> Result:
    """Item 13: no steady memory growth over the window, CPU below the bound."""
    window, young = firsthour.settled(deployed_at, env.windows.first_hour, env.windows, "resources")
    if young is not None:
        return young
    job, th = _job(env), env.thresholds
    memory = firsthour.memory_trend(prom, job, window, time.time(), th)
    diagnostics.attach(memory, "memory", fixture, env, window.seconds)
    cpu = firsthour.cpu_usage(prom, job, env.windows.rate, th)
    return firsthour.combine({"memory": memory, "cpu": cpu}, "resources")


def endpoints(prom: PromClient, env: Environment, deployed_at: datetime | None, fixture: Fixture) -> Result:
    """Item 14: every critical endpoint has traffic and no 5xx; p95 per endpoint."""
    window, young = firsthour.settled(deployed_at, env.windows.first_hour, env.windows, "endpoints")
    if young is not None:
        return young
    result = firsthour.endpoints(prom, _job(env), env.endpoints, window, env.thresholds)
    return diagnostics.attach(result, "errors", fixture, env, window)


def analytics(prom: PromClient, env: Environment, deployed_at: datetime | None) -> Result:
    """Item 18: business counters per hour in their ranges."""
    # The window starts after the deploy: a young release's counters would read as "no sign-ups".
    window, young = firsthour.settled(deployed_at, env.windows.analytics, env.windows, "analytics")
    if young is not None:
        return young
    return firsthour.analytics(prom, _job(env), window.seconds, env.thresholds)


# -- first 24 hours, items 19 and 22; daily, item 27; pre-deploy baseline ---------------------------
def _db_connections_part(
    prom: PromClient, env: Environment, deployed_at: datetime | None, fixture: Fixture
) -> dict[str, Result]:
    """ "DB connections stable" of the dashboard review: the db.connections judgement (both sources)."""
    if env.database is None:
        return {}
    conn = fixture("db")
    return {"db connections": database.connections(prom, _job(env), conn, env.db_checks, deployed_at)}


def dashboard(prom: PromClient, env: Environment, deployed_at: datetime | None, fixture: Fixture) -> Result:
    """Item 19: error rate, p95, memory, CPU and DB connections; the Key-metrics targets as actions."""
    window, young = firsthour.settled(deployed_at, env.windows.first_24h, env.windows, "dashboard")
    if young is not None:
        return young
    job, th = _job(env), env.thresholds
    parts = {
        "error rate": diagnostics.attach(metrics.error_rate(prom, job, window, th), "errors", fixture, env, window),
        "p95": diagnostics.attach(metrics.latency_p95(prom, job, window, th), "latency", fixture, env, window.seconds),
        "memory": diagnostics.attach(
            firsthour.memory_trend(prom, job, window, time.time(), th), "memory", fixture, env, window.seconds
        ),
        "cpu": firsthour.cpu_usage(prom, job, env.windows.rate, th),
    }
    parts.update(_db_connections_part(prom, env, deployed_at, fixture))
    result = firsthour.combine(parts, "dashboard")
    # The Key-metrics targets (p50/p95/p99, error rate) as the report's action lines.
    snaps, error = baseline.measure(prom, job, {"p50/p95/p99": (window.seconds, "")})
    if error is None:
        snap = snaps["p50/p95/p99"]
        result.evidence["p50 / p95 / p99"] = baseline.describe(snap)
        actions = baseline.key_actions(snap, th)
        result.evidence["key metrics"] = "; ".join(actions) or "within the Key-metrics targets"
    return result


def baseline_compare(
    prom: PromClient, env: Environment, deployed_at: datetime | None, history: History, check_id: str, fixture: Fixture
) -> Result:
    """Item 22: the release against the pre_deploy baseline."""
    window, young = firsthour.settled(deployed_at, env.windows.first_24h, env.windows, check_id)
    if young is not None:
        return young
    result = baseline.against_baseline(prom, env, window.seconds, history, check_id)
    return diagnostics.attach(result, "latency", fixture, env, window.seconds)


def trend(prom: PromClient, env: Environment, deployed_at: datetime | None, fixture: Fixture) -> Result:
    """Item 27: request rate, p95 and error rate of the last window against the same window yesterday."""
    window, young = firsthour.settled(deployed_at, env.windows.daily, env.windows, "trend")
    if young is not None:
        return young
    # Yesterday's window is the whole daily window: today's deploy does not cut it.
    pairs = {"today": (window.seconds, ""), "yesterday": (env.windows.daily, "1d")}
    snaps, error = baseline.measure(prom, _job(env), pairs)
    if error is not None:
        return error
    today, yesterday = snaps["today"], snaps["yesterday"]
    source = f"the {human(env.windows.daily)} before now, yesterday (offset 1d)"
    cfg = env.baseline
    result = baseline.compare(today, yesterday, source, cfg, env.thresholds, "trend", tolerance=cfg.trend_tolerance)
    return diagnostics.attach(result, "latency", fixture, env, window.seconds)


def baseline_captured(prom: PromClient, env: Environment, deployed_at: datetime | None) -> Result:
    """Pre-deploy: the baseline snapshot item 22 compares the release with."""
    window, young = firsthour.settled(deployed_at, env.windows.first_hour, env.windows, "baseline.captured")
    if young is not None:
        return young
    return baseline.captured(prom, _job(env), window.seconds, env.endpoints, env.thresholds)
