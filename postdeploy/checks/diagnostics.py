"""Diagnostics gathered at the moment a check fails, as the guide's "Common issues" prescribes.

high error rate -> the top failing endpoints and the new Sentry issues; slow responses ->
the slowest statements (pg_stat_statements) and CPU/memory; memory leak -> the RSS series.
Each diagnosis is added to the failing result's evidence, so it shows in the failure
message, record.json, the HTML report and the Allure result. A diagnosis that cannot be
gathered says why; it never turns the check into an error.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from postdeploy.checks.metrics import Window
from postdeploy.config import Environment
from postdeploy.core.durations import human
from postdeploy.core.errors import PostdeployError
from postdeploy.core.redaction import redact
from postdeploy.core.results import Result
from postdeploy.sources import promqueries
from postdeploy.sources.promql import PromClient, range_step

# Not caught where a diagnosis "could not gather": an interrupt or an exit ends the run as it would anyway.
STOP = (KeyboardInterrupt, SystemExit, GeneratorExit)

SLOWEST_SQL = (
    "SELECT round(mean_exec_time::numeric, 1) AS mean_ms, calls, left(regexp_replace(query, '\\s+', ' ', 'g'), 120) "
    "FROM pg_stat_statements ORDER BY mean_exec_time DESC LIMIT 5"
)


def top_failing_endpoints(prom: PromClient, job: str, window: Window | float, k: int = 5) -> str:
    """The endpoints with the most 5xx answers plus unhandled exceptions, in the window the check judged.

    The same series and window as the error-rate check (exact since the deploy when it can
    be, else increase() over the window): "none" next to "5xx: 2" cannot happen.
    """
    if not isinstance(window, Window):
        window = Window(float(window))
    selectors = {"5xx": promqueries.requests_5xx(job), "unhandled": promqueries.unhandled(job)}
    asked: dict[str, str] = {}
    counts: dict[str, dict[str, float]] = {}
    for exact in (True, False):
        asked = {name: window.total_by("endpoint", s, job, exact=exact) for name, s in selectors.items()}
        counts = {name: {x.labels.get("endpoint", "?"): x.value for x in prom.query(q)} for name, q in asked.items()}
        if any(counts.values()) or window.deployed_at is None:
            break  # the exact form had data (or was not used): the check read the same
    shown = "; ".join(asked.values())
    per: dict[str, tuple[float, float]] = {}
    for name, rows in counts.items():
        for endpoint, value in rows.items():
            if math.isfinite(value) and value > 0:
                e5, unhandled = per.get(endpoint, (0.0, 0.0))
                per[endpoint] = (e5 + value, unhandled) if name == "5xx" else (e5, unhandled + value)
    top = sorted(per.items(), key=lambda kv: -(kv[1][0] + kv[1][1]))[:k]
    listed = ", ".join(f"{ep}: {a + b:.0f} ({a:.0f} 5xx, {b:.0f} unhandled)" for ep, (a, b) in top)
    if not listed:
        listed = f"no endpoint with 5xx or unhandled exceptions in {window}"
    return f"{listed}  [{shown}]"


def new_sentry_issues(client: Any, since: datetime) -> str:
    issues = client.new_issues(since)
    return "; ".join(repr(i) for i in issues[:5]) or "no new Sentry issue"


def slowest_statements(conn: Any) -> str:
    try:
        with conn.cursor() as cur:
            cur.execute(SLOWEST_SQL)
            rows = cur.fetchall()
    except Exception as exc:  # a missing extension is a finding of its own, said plainly
        conn.rollback()
        return f"pg_stat_statements unavailable ({type(exc).__name__}: {str(exc).splitlines()[0]}); enable: CREATE EXTENSION pg_stat_statements"
    finally:
        if conn.info.transaction_status:
            conn.rollback()
    return "; ".join(f"{r[0]} ms x{r[1]}: {r[2]}" for r in rows) or "no statements recorded"


def cpu_memory(prom: PromClient, job: str) -> str:
    cpu = prom.query(promqueries.cpu_rate(job, "[1m]", by=""))
    rss = prom.query(promqueries.rss(job))
    parts = [f"CPU {s.labels.get('instance', '?')} {s.value:.0%}" for s in cpu]
    parts += [f"RSS {s.labels.get('instance', '?')} {s.value / 1048576:.0f} MB" for s in rss]
    return ", ".join(parts) or "no process metrics"


def rss_series(prom: PromClient, job: str, seconds: float, points: int = 12) -> str:
    now = time.time()
    series = prom.query_range(promqueries.rss(job), now - seconds, now, range_step(seconds, points))
    out = []
    for s in series:
        pts = ", ".join(f"{datetime.fromtimestamp(t, UTC):%H:%M:%S} {v / 1048576:.1f}" for t, v in s.points[-points:])
        out.append(f"{s.labels.get('instance', '?')} (MB): {pts}")
    return "; ".join(out) or "no RSS series"


def _try(label: str, fn: Any, *args: Any) -> tuple[str, str]:
    try:
        text = redact(str(fn(*args))).strip()
    except (PostdeployError, OSError) as exc:
        return f"diagnosis: {label}", f"could not gather: {redact(str(exc))}"
    except STOP:
        raise
    except BaseException as exc:  # a client that failed or skipped (the test runner's outcomes) too: never
        # breaks the check it explains
        return f"diagnosis: {label}", f"could not gather: {type(exc).__name__}: {redact(str(exc))[:200]}"
    return f"diagnosis: {label}", text or "could not gather: the source answered nothing"


def attach(
    result: Result, kind: str, client: Callable[[str], Any], target: Environment, window: Window | float
) -> Result:
    """Add the diagnosis for `kind` (errors | latency | memory) to a result that did not pass.

    `client` returns a client by name ("prom", "sentry", "db"), asked for only when a diagnosis
    needs it (a passing check never connects to the database for one). `window` is the check's
    own (its Window, or its length in seconds): the diagnosis reads the same stretch of time.
    A diagnosis that cannot be gathered says why, in the evidence.
    """
    if result.ok or result.outcome == "skipped":
        return result
    seconds = window.seconds if isinstance(window, Window) else float(window)
    labels = {
        "errors": f"top failing endpoints over {human(seconds)}",
        "latency": "CPU and memory",
        "memory": f"RSS series over {human(seconds)}",
    }
    if target.prometheus is None:
        result.evidence[f"diagnosis: {labels.get(kind, kind)}"] = "could not gather: no [prometheus] is configured"
        return result
    try:
        prom: PromClient = client("prom")
    except STOP:
        raise
    except BaseException as exc:
        result.evidence[f"diagnosis: {labels.get(kind, kind)}"] = f"could not gather: {redact(str(exc))[:200]}"
        return result
    job = target.prometheus.job
    found: list[tuple[str, str]] = []
    if kind == "errors":
        found.append(_try(labels["errors"], top_failing_endpoints, prom, job, window))
        if target.sentry is not None:
            since = datetime.fromtimestamp(time.time() - max(seconds, 60), UTC)
            found.append(_try("new Sentry issues", lambda: new_sentry_issues(client("sentry"), since)))
    elif kind == "latency":
        if target.database is not None:
            found.append(_try("slowest statements", lambda: slowest_statements(client("db"))))
        found.append(_try(labels["latency"], cpu_memory, prom, job))
    elif kind == "memory":
        found.append(_try(labels["memory"], rss_series, prom, job, seconds))
    result.evidence.update(dict(found))
    return result
