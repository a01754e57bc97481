"""Item 28, capacity planning: database growth rate and when the disk or the database fills.

- Database: the growth rate comes from the size history (`postdeploy.sources.sizehistory`, written
  by `db.size`) plus a reading taken now, over at most `history_lookback`, and needs a span
  of at least `min_span` (a rate from two readings a minute apart is noise).
- Disk: `node_filesystem_avail_bytes` / `node_filesystem_size_bytes` (node_exporter's
  names) for the configured mountpoint; the slope of the free bytes over `disk_window`
  (a range query, least squares) says when it reaches zero.
The check fails when either is projected to fill within the horizon (30 days), or the disk
has less than 10 % free now.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

from postdeploy.checks.advice import advice
from postdeploy.checks.database import SIZE_SQL, rows
from postdeploy.config import Capacity, Environment
from postdeploy.core.durations import human_bytes, human_days
from postdeploy.core.errors import TargetError
from postdeploy.core.redaction import redact
from postdeploy.core.results import Result, failed, inconclusive, not_configured, passed
from postdeploy.core.stats import fit, per_day, seconds_to_empty
from postdeploy.run.pastruns import History
from postdeploy.sources import promqueries
from postdeploy.sources.promql import PromClient, range_step
from postdeploy.sources.sizehistory import history_path, read

MIN_POINTS = 5


def disk_queries(cfg: Capacity) -> dict[str, str]:
    """The PromQL of the disk's free and total bytes at the configured mountpoint."""
    sel = f'mountpoint="{cfg.mountpoint}"' + (f",{cfg.disk_selector}" if cfg.disk_selector else "")
    return promqueries.disk(sel)


def disk_outlook(prom: PromClient, cfg: Capacity, now: float) -> tuple[list[str], dict[str, Any], float | None]:
    """Return (problems, evidence, free bytes now) for the disk; no data is a problem of its own kind."""
    q = disk_queries(cfg)
    ev: dict[str, Any] = {
        "disk query": q["avail"],
        "disk size query": q["size"],
        "disk window": f"{cfg.disk_window:g}s",
    }
    start = now - cfg.disk_window
    step = range_step(cfg.disk_window)
    ev["disk step"] = f"{step}s"
    matrix = prom.query_range(q["avail"], start, now, step)
    sizes = {tuple(sorted(s.labels.items())): s.value for s in prom.query(q["size"])}
    if not matrix:
        return [f"no data: {q['avail']} has no series (is node_exporter scraped? is the mountpoint right?)"], ev, None
    problems: list[str] = []
    free_now: float | None = None
    for series in matrix:
        key = tuple(sorted(series.labels.items()))
        name = series.labels.get("device") or series.labels.get("instance") or cfg.mountpoint
        avail = series.points[-1][1] if series.points else float("nan")
        free_now = avail if free_now is None else min(free_now, avail)
        total = sizes.get(key)
        share = avail / total if total else None
        trend = fit(series.points) if len(series.points) >= MIN_POINTS else None
        left = seconds_to_empty(avail, trend.slope) if trend else None
        ev[f"disk {name}"] = (
            f"{human_bytes(avail)} free"
            + (f" of {human_bytes(total)} ({share:.1%})" if total and share is not None else "")
            + (f", slope {human_bytes(trend.slope * 86400)}/day, full in {human_days(left)}" if trend else "")
            + f" ({len(series.points)} samples)"
        )
        if trend is None:
            problems.append(
                f"inconclusive: {len(series.points)} samples of {name}, need {MIN_POINTS}: "
                "Prometheus has no history of this disk yet; wait for a day of data"
            )
            continue
        if share is not None and share < cfg.disk_free_min:
            problems.append(f"disk {name} has {share:.1%} free, below {cfg.disk_free_min:.0%}")
        if left is not None and left < cfg.horizon:
            problems.append(
                f"disk {name} ({cfg.mountpoint}) is projected to fill in {human_days(left)}: "
                f"{human_bytes(avail)} free, falling {human_bytes(-trend.slope * 86400)}/day "
                f"(horizon {human_days(cfg.horizon)})"
            )
    return problems, ev, free_now


def db_outlook(
    conn: psycopg.Connection, cfg: Capacity, env: str, history_file: Path, now: float, room: float | None
) -> tuple[list[str], dict[str, Any]]:
    """Return (problems, evidence) for the database's growth: rate per day and time until it fills."""
    ev: dict[str, Any] = {"history": str(history_file), "sql": SIZE_SQL}
    name, current = rows(conn, SIZE_SQL)[0]
    past = [r for r in read(history_file, env, name) if r.epoch >= now - cfg.history_lookback]
    ev["database size"] = f"{name}: {human_bytes(current)} now; {len(past)} earlier record(s) in the lookback"
    if not past or now - past[0].epoch < cfg.min_span:
        span = now - past[0].epoch if past else 0.0
        return [
            f"inconclusive: the size history of {name} spans {span:.0f}s, need {cfg.min_span:g}s "
            "(db.size appends one record per run): no history for this environment yet: run first_24h "
            "(db.size) after each deploy or daily, or wait for a day of data"
        ], ev
    first = past[0]
    rate = per_day(current - first.size_bytes, now - first.epoch) or 0.0
    ev["database growth"] = f"{human_bytes(rate)}/day from {human_bytes(first.size_bytes)} {now - first.epoch:.0f}s ago"
    problems: list[str] = []
    bounds = []
    if cfg.db_max_bytes > 0:
        bounds.append(("its quota", cfg.db_max_bytes - current))
    if room is not None:
        bounds.append(("the disk", room))
    for what, left_bytes in bounds:
        left = seconds_to_empty(left_bytes, -rate / 86400.0) if rate > 0 else None
        ev[f"database fills {what}"] = f"in {human_days(left)} ({human_bytes(left_bytes)} left)"
        if left is not None and left < cfg.horizon:
            problems.append(
                f"database {name} growing {human_bytes(rate)}/day fills {what} in {human_days(left)} "
                f"(horizon {human_days(cfg.horizon)})"
            )
    if not bounds:
        ev["database fills"] = "not projected: no disk mountpoint and no db_max_bytes configured"
    return problems, ev


def capacity(
    prom: PromClient | None, conn: psycopg.Connection | None, cfg: Capacity, env: str, history_file: Path
) -> Result:
    """Item 28: growth rates attached; disk and database not projected to fill within the horizon."""
    if prom is None and conn is None:
        return not_configured("add [database] and/or [prometheus] with [capacity] mountpoint")
    now = time.time()
    evidence: dict[str, Any] = {"horizon": human_days(cfg.horizon)}
    problems: list[str] = []
    room: float | None = None
    if prom is not None and cfg.mountpoint:
        try:
            found, ev, room = disk_outlook(prom, cfg, now)
        except TargetError as exc:
            found, ev = [f"cannot read the disk metrics: {exc}"], {}
        problems += found
        evidence.update(ev)
    else:
        evidence["disk"] = "not judged: set [capacity] mountpoint (node_exporter's label) to project the disk"
    if conn is not None:
        try:
            found, ev = db_outlook(conn, cfg, env, history_file, now, room)
        except psycopg.Error as exc:
            found, ev = [f"cannot read the database size: {redact(str(exc).splitlines()[0] if str(exc) else '')}"], {}
        problems += found
        evidence.update(ev)
    real = [p for p in problems if not p.startswith("inconclusive")]
    if real:
        return failed(
            "; ".join(real),
            value=len(real),
            threshold=f"nothing fills within {human_days(cfg.horizon)}",
            evidence=evidence,
            advice=advice("capacity"),
        )
    if problems:
        return inconclusive("; ".join(problems), evidence=evidence)
    return passed(
        f"neither the disk nor the database is projected to fill within {human_days(cfg.horizon)}",
        threshold=f"nothing fills within {human_days(cfg.horizon)}",
        evidence=evidence,
    )


def weekly(env: Environment, fixture: Callable[[str], Any], history: History) -> Result:
    """Item 28 for an environment: `fixture` returns a client by fixture name ("prom", "db"),
    asked for only when the environment configures its source."""
    prom = fixture("prom") if env.prometheus is not None else None
    conn = fixture("db") if env.database is not None else None
    path = history_path(env.capacity.history_file, history.env_dir)
    return capacity(prom, conn, env.capacity, env.name, path)
