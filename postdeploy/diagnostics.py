"""Diagnostics gathered at the moment a check fails, as the guide's "Common issues" prescribes.

high error rate -> the top failing endpoints and the new Sentry issues; slow responses ->
the slowest statements (pg_stat_statements) and CPU/memory; memory leak -> the RSS series.
Each diagnosis is added to the failing result's evidence, so it shows in the failure
message, record.json, the HTML report and the Allure result. A diagnosis that cannot be
gathered says why; it never turns the check into an error.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest

from postdeploy.config import Environment
from postdeploy.durations import human, promql_duration
from postdeploy.errors import PostdeployError
from postdeploy.promql import PromClient, range_step
from postdeploy.redaction import redact
from postdeploy.results import Result

SLOWEST_SQL = (
    "SELECT round(mean_exec_time::numeric, 1) AS mean_ms, calls, left(regexp_replace(query, '\\s+', ' ', 'g'), 120) "
    "FROM pg_stat_statements ORDER BY mean_exec_time DESC LIMIT 5"
)


def top_failing_endpoints(prom: PromClient, job: str, seconds: float, k: int = 5) -> str:
    rng = f"[{promql_duration(seconds)}]"
    query = (
        f'topk({k}, sum by (endpoint) (increase(http_requests_total{{job="{job}",status=~"5.."}}{rng})) '
        f'or sum by (endpoint) (increase(errors_total{{job="{job}"}}{rng})))'
    )
    rows = sorted(prom.query(query), key=lambda s: -s.value)
    listed = ", ".join(f"{s.labels.get('endpoint', '?')}: {s.value:.0f}" for s in rows if s.value > 0)
    return f"{listed or 'none'}  [{query}]"


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
    cpu = prom.query(f'rate(process_cpu_seconds_total{{job="{job}"}}[1m])')
    rss = prom.query(f'process_resident_memory_bytes{{job="{job}"}}')
    parts = [f"CPU {s.labels.get('instance', '?')} {s.value:.0%}" for s in cpu]
    parts += [f"RSS {s.labels.get('instance', '?')} {s.value / 1048576:.0f} MB" for s in rss]
    return ", ".join(parts) or "no process metrics"


def rss_series(prom: PromClient, job: str, seconds: float, points: int = 12) -> str:
    now = time.time()
    series = prom.query_range(
        f'process_resident_memory_bytes{{job="{job}"}}', now - seconds, now, range_step(seconds, points)
    )
    out = []
    for s in series:
        pts = ", ".join(f"{datetime.fromtimestamp(t, UTC):%H:%M:%S} {v / 1048576:.1f}" for t, v in s.points[-points:])
        out.append(f"{s.labels.get('instance', '?')} (MB): {pts}")
    return "; ".join(out) or "no RSS series"


def _try(label: str, fn: Any, *args: Any) -> tuple[str, str]:
    try:
        return f"diagnosis: {label}", redact(str(fn(*args)))
    except (PostdeployError, OSError) as exc:
        return f"diagnosis: {label}", f"could not gather: {redact(str(exc))}"
    except (Exception, pytest.fail.Exception, pytest.skip.Exception) as exc:  # never breaks the check it explains
        return f"diagnosis: {label}", f"could not gather: {type(exc).__name__}: {redact(str(exc))[:200]}"


def attach(result: Result, kind: str, request: pytest.FixtureRequest, target: Environment, seconds: float) -> Result:
    """Add the diagnosis for `kind` (errors | latency | memory) to a result that did not pass."""
    if result.ok or result.outcome == "skipped" or target.prometheus is None:
        return result
    prom: PromClient = request.getfixturevalue("prom")
    job = target.prometheus.job
    found: list[tuple[str, str]] = []
    if kind == "errors":
        found.append(_try(f"top failing endpoints over {human(seconds)}", top_failing_endpoints, prom, job, seconds))
        if target.sentry is not None:
            since = datetime.fromtimestamp(time.time() - max(seconds, 60), UTC)
            found.append(_try("new Sentry issues", lambda: new_sentry_issues(request.getfixturevalue("sentry"), since)))
    elif kind == "latency":
        if target.database is not None:
            found.append(_try("slowest statements", lambda: slowest_statements(request.getfixturevalue("db"))))
        found.append(_try("CPU and memory", cpu_memory, prom, job))
    elif kind == "memory":
        found.append(_try(f"RSS series over {human(seconds)}", rss_series, prom, job, seconds))
    result.evidence.update(dict(found))
    return result
