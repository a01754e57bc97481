"""First hour, items 11, 13, 14, 16 and 18: traffic, memory and CPU, endpoints, jobs, business counters.

Windows end now and start at most the phase's window ago, and never before the deploy
plus its warm-up: what the previous release did is not this one's doing.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from postdeploy.checks import trends
from postdeploy.checks.advice import advice
from postdeploy.checks.metrics import Window
from postdeploy.config import Environment, Job, Thresholds, Windows
from postdeploy.core import stats
from postdeploy.core.durations import human, promql_duration
from postdeploy.core.errors import TargetError
from postdeploy.core.results import Result, failed, inconclusive, not_configured, passed, unreachable
from postdeploy.sources import promqueries
from postdeploy.sources.promql import PromClient, range_step

MB = 1024 * 1024


def recent_window(deployed_at: datetime | None, now: float, longest: float, warmup: float) -> Window:
    """The last `longest` seconds, cut to start no earlier than the deploy + warm-up."""
    if deployed_at is None:
        return Window(longest)
    return Window(max(0.0, min(longest, now - deployed_at.timestamp() - warmup)))


def settled_window(
    deployed_at: datetime | None,
    longest: float,
    windows: Windows,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
) -> Window:
    """The recent window; when it is short of `min_window` by at most `max_wait`, wait for it first.

    The wait is measured from the deploy + warm-up, not from the window clamped at 0: a run
    that starts inside the warm-up (right after a redeploy) waits out the rest of the warm-up
    too, and the wait ends on the clock (a bounded poll), so it never comes up short.
    """
    now = clock()
    window = recent_window(deployed_at, now, longest, windows.warmup)
    if deployed_at is None:
        return window
    ready_at = deployed_at.timestamp() + windows.warmup + min(windows.min_window, longest)
    if not 0 < ready_at - now <= windows.max_wait:
        return window
    deadline = now + windows.max_wait + 1.0
    while now < ready_at and now < deadline:
        sleep(min(ready_at - now, deadline - now) + 0.05)
        now = clock()
    return recent_window(deployed_at, now, longest, windows.warmup)


def too_young(window: Window, windows: Windows, check_id: str) -> Result | None:
    """Inconclusive when the window since the deploy is shorter than the shortest one worth judging."""
    if window.seconds >= windows.min_window:
        return None
    have, need = human(window.seconds), human(windows.min_window)
    if have == need:  # 9.6 s is not 10 s: never "only 10s of data, need 10s"
        have = f"{window.seconds:.1f}s"
    return inconclusive(
        f"inconclusive: the release has only {have} of data after its {human(windows.warmup)} "
        f"warm-up, need {need}; run this phase later",
        value=have,
        threshold=f">= {need}",
        evidence={"window": str(window)},
        advice=advice(check_id),
    )


def settled(
    deployed_at: datetime | None, longest: float, windows: Windows, check_id: str
) -> tuple[Window, Result | None]:
    """The settled window (waiting, bounded, for `min_window` of samples right after a deploy),
    and the inconclusive result to judge instead when it is still too young (else None)."""
    window = settled_window(deployed_at, longest, windows)
    return window, too_young(window, windows, check_id)


def _rng(seconds: float, offset: str = "") -> str:
    return f"[{promql_duration(seconds)}]" + (f" offset {offset}" if offset else "")


# -- item 11 ----------------------------------------------------------------------------------
def request_rate_query(job: str, seconds: float, offset: str = "") -> str:
    return promqueries.request_rate(job, _rng(seconds, offset))


def traffic_routed(
    prom: PromClient, job: str, rate_window: float, baseline: float | None, source: str, th: Thresholds
) -> Result:
    """The current request rate is not below the baseline by more than `th.traffic_drop`."""
    query = request_rate_query(job, rate_window)
    evidence: dict[str, Any] = {"query": query, "window": human(rate_window), "baseline": source}
    floor = f">= {1 - th.traffic_drop:.0%} of baseline"
    if baseline is None:
        return inconclusive(
            f"inconclusive: no baseline request rate; {trends.NO_HISTORY} (looked at: {source})",
            threshold=floor,
            evidence=evidence,
        )
    expected = baseline * rate_window
    if expected < th.min_requests:
        return inconclusive(
            trends.short_of(expected, th.min_requests, "requests expected at the baseline rate", human(rate_window)),
            value=f"baseline {baseline:.2f}/s",
            threshold=floor,
            evidence=evidence,
        )
    try:
        rate = prom.value(query)
    except TargetError as exc:
        return unreachable(f"cannot read the request rate: {exc}", evidence=evidence, advice=advice("traffic.routed"))
    rate = rate or 0.0
    evidence.update({"request rate": f"{rate:.2f}/s", "baseline rate": f"{baseline:.2f}/s"})
    shown = f"request rate {rate:.2f}/s vs baseline {baseline:.2f}/s ({(rate - baseline) / baseline:+.0%}) over {human(rate_window)}"
    if rate < (1 - th.traffic_drop) * baseline:
        evidence["key metric"] = "API calls/minute: alert on a drop > 50%"
        return failed(
            f"{shown}: more than {th.traffic_drop:.0%} below the baseline (is traffic reaching the release?)",
            value=f"{rate:.2f}/s",
            threshold=floor,
            evidence=evidence,
            advice=advice("traffic.routed"),
        )
    return passed(shown, value=f"{rate:.2f}/s", threshold=floor, evidence=evidence)


# -- item 13 ----------------------------------------------------------------------------------
def memory_trend(prom: PromClient, job: str, window: Window, now: float, th: Thresholds) -> Result:
    """No steady memory growth: the least-squares slope of RSS over the window, per process."""
    query = promqueries.rss(job)
    step = float(range_step(window.seconds))
    evidence: dict[str, Any] = {"query": f"{query} (range, step {step:g}s)", "window": str(window)}
    limit = f"< {th.memory_growth_mb_per_hour:g} MB/h (fit r2 >= {th.memory_growth_r2:g})"
    try:
        series = prom.query_range(query, now - window.seconds, now, step)
    except TargetError as exc:
        return unreachable(f"cannot read memory: {exc}", evidence=evidence, advice=advice("resources"))
    worst: tuple[str, stats.Slope] | None = None
    for s in series:
        fit = stats.slope(s.points)
        if fit is None:
            continue
        name = s.labels.get("instance", "?")
        evidence[f"RSS {name}"] = describe_slope(fit, window.seconds)
        if worst is None or fit.per_second > worst[1].per_second:
            worst = (name, fit)
    if worst is None or worst[1].points < 5:
        got = 0 if worst is None else worst[1].points
        return inconclusive(
            f"inconclusive: {got} RSS samples in {window}, need 5 to judge a slope",
            threshold=limit,
            evidence=evidence,
        )
    name, fit = worst
    growth = fit.per_hour() / MB
    data = {"slope_bytes_per_s": fit.per_second, "r2": fit.r2, "rss_bytes": fit.last}
    problems = []
    if growth > th.memory_growth_mb_per_hour and fit.r2 >= th.memory_growth_r2:
        problems.append(f"memory grows steadily on {name}: {describe_slope(fit, window.seconds)}")
    if th.memory_limit_bytes:
        used = fit.last / th.memory_limit_bytes
        evidence["memory used"] = f"{used:.0%} of {th.memory_limit_bytes / MB:.0f} MB"
        if used > th.memory:
            problems.append(f"memory at {used:.0%} of the limit (> {th.memory:.0%})")
    else:
        evidence["memory used"] = "not judged: set thresholds.memory_limit_bytes"
    if problems:
        evidence["key metric"] = f"memory > {th.memory:.0%}: investigate memory leaks"
        return failed(
            "; ".join(problems),
            value=f"{growth:+.0f} MB/h",
            threshold=limit,
            evidence=evidence,
            advice=advice("resources"),
            data=data,
        )
    return passed(
        f"no steady memory growth: {describe_slope(fit, window.seconds)}",
        value=f"{growth:+.0f} MB/h",
        threshold=limit,
        evidence=evidence,
        data=data,
    )


def describe_slope(fit: stats.Slope, window: float) -> str:
    """RSS 45 MB -> 61 MB over 25s (26 points), +0.64 MB/s = +2304 MB/h (r2 0.99); in 1h: 2.3 GB."""
    return (
        f"{fit.first / MB:.1f} MB -> {fit.last / MB:.1f} MB over {human(fit.span)} ({fit.points} points), "
        f"slope {fit.per_second / MB:+.3f} MB/s = {fit.per_hour() / MB:+.0f} MB/h (r2 {fit.r2:.2f}); "
        f"projected in 1h: {fit.projection(3600) / MB:.0f} MB"
    )


def cpu_usage(prom: PromClient, job: str, rate_window: float, th: Thresholds) -> Result:
    """CPU of each process over the rate window, as a share of `cpu_cores`, below the threshold."""
    query = promqueries.cpu_rate(job, _rng(rate_window))
    evidence: dict[str, Any] = {"query": query, "cores": f"{th.cpu_cores:g}"}
    limit = f"< {th.cpu:.0%}"
    try:
        samples = prom.query(query)
    except TargetError as exc:
        return unreachable(f"cannot read CPU: {exc}", evidence=evidence, advice=advice("resources"))
    usage = {s.labels.get("instance", "?"): s.value / th.cpu_cores for s in samples if math.isfinite(s.value)}
    if not usage:
        return inconclusive(f"no data: no {promqueries.CPU} for job {job!r}", threshold=limit, evidence=evidence)
    for name, u in usage.items():
        evidence[f"CPU {name}"] = f"{u:.0%}"
    name, top = max(usage.items(), key=lambda kv: kv[1])
    if top >= th.cpu:
        evidence["key metric"] = f"CPU > {th.cpu:.0%}: scale up or optimise"
        return failed(
            f"CPU {top:.0%} of {th.cpu_cores:g} core(s) on {name} over {human(rate_window)} is above {th.cpu:.0%}",
            value=f"{top:.0%}",
            threshold=limit,
            evidence=evidence,
            advice=advice("resources"),
        )
    return passed(f"CPU {top:.0%} of {th.cpu_cores:g} core(s)", value=f"{top:.0%}", threshold=limit, evidence=evidence)


def combine(parts: dict[str, Result], check_id: str) -> Result:
    """One result from several: failed if any failed, inconclusive if any was, else passed."""
    evidence: dict[str, Any] = {}
    for name, r in parts.items():
        evidence[name] = f"{r.outcome}: {r.summary}"
        evidence.update({f"{name} {k}": v for k, v in r.evidence.items()})
    bad = [f"{n}: {r.summary}" for n, r in parts.items() if r.outcome == "failed"]
    unsure = [f"{n}: {r.summary}" for n, r in parts.items() if r.outcome == "inconclusive"]
    values = {n: r.value for n, r in parts.items()}
    thresholds = {n: r.threshold for n, r in parts.items()}
    data = {n: r.data for n, r in parts.items() if r.data is not None}
    kw: dict[str, Any] = {"value": values, "threshold": thresholds, "evidence": evidence, "data": data or None}
    # A part may raise the check's severity (an error rate above the rollback bound).
    raised = [r.severity for r in parts.values() if r.severity and r.outcome == "failed"]
    if raised:
        kw["severity"] = "critical" if "critical" in raised else raised[0]
    if bad:
        return failed("; ".join(bad), advice=advice(check_id), **kw)
    if unsure:
        return inconclusive("; ".join(unsure), advice=advice(check_id), **kw)
    return passed("; ".join(f"{n}: {r.summary}" for n, r in parts.items()), **kw)


# -- item 14 ----------------------------------------------------------------------------------
def endpoint_queries(job: str, seconds: float) -> dict[str, str]:
    rng = _rng(seconds)
    out = {name: promqueries.increase(selector, rng, "endpoint") for name, selector in promqueries.traffic(job).items()}
    out["p95"] = promqueries.latency_quantile(0.95, job, rng, "endpoint")
    return out


def endpoints(prom: PromClient, job: str, wanted: list[str], window: Window, th: Thresholds) -> Result:
    """Every configured endpoint has traffic and no 5xx in the window; p95 per endpoint reported."""
    if not wanted:
        return not_configured("list the critical endpoints in `endpoints` of the environment file")
    queries = endpoint_queries(job, window.seconds)
    evidence: dict[str, Any] = {f"query {k}": q for k, q in queries.items()}
    evidence["window"] = str(window)
    try:
        got = {k: {s.labels.get("endpoint", ""): s.value for s in prom.query(q)} for k, q in queries.items()}
    except TargetError as exc:
        return unreachable(f"cannot read per-endpoint traffic: {exc}", evidence=evidence, advice=advice("endpoints"))
    total = sum(v for v in got["requests"].values() if math.isfinite(v)) + sum(got["unhandled"].values())
    if total < th.min_requests:
        return inconclusive(
            trends.short_of(total, th.min_requests, "requests", str(window)),
            value=f"{total:.0f} requests",
            threshold=f">= {th.min_requests} requests",
            evidence=evidence,
        )
    problems, rows = [], {}
    for ep in wanted:
        n = got["requests"].get(ep, 0.0) + got["unhandled"].get(ep, 0.0)
        bad = got["5xx"].get(ep, 0.0) + got["unhandled"].get(ep, 0.0)
        p95 = got["p95"].get(ep)
        shown_p95 = human(p95) if p95 is not None and math.isfinite(p95) else "n/a"
        rows[ep] = {"requests": round(n), "5xx": round(bad), "p95": shown_p95}
        evidence[f"endpoint {ep}"] = f"{n:.0f} requests, {bad:.0f} 5xx, p95 {shown_p95}"
        if round(n) <= 0:
            problems.append(f"{ep}: no traffic in {window}")
        elif round(bad) > 0:
            problems.append(f"{ep}: {bad:.0f} of {n:.0f} requests answered 5xx")
    if problems:
        return failed(
            "endpoints failing: " + "; ".join(problems),
            value=len(problems),
            threshold="0 endpoints without traffic or with 5xx",
            evidence=evidence,
            advice=advice("endpoints"),
            data={"endpoints": rows},
        )
    return passed(
        f"{len(wanted)} endpoints serve without 5xx over {window}",
        value=0,
        threshold="0 endpoints without traffic or with 5xx",
        evidence=evidence,
        data={"endpoints": rows},
    )


# -- item 16 ----------------------------------------------------------------------------------
def job_last_run(job: Job, prom: PromClient | None, sql_runner: Callable[[str], Any] | None) -> float | None:
    """Unix time of the job's last run from its metric or its SQL; None when nothing is known."""
    if job.metric:
        if prom is None:
            raise TargetError(f"job {job.name!r} reads a metric but no [prometheus] is configured")
        return prom.value(job.metric)
    if sql_runner is None:
        raise TargetError(f"job {job.name!r} reads SQL but no [database] is configured")
    value = sql_runner(job.sql)
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.timestamp()
    return float(value)


def jobs(env: Environment, fixture: Callable[[str], Any], now: float | None = None) -> Result:
    """Item 16 against the environment: each [[jobs]] entry from its metric (Prometheus) or SQL (database).

    `fixture` returns a client by fixture name ("prom", "db"), asked only when a job needs it; a
    database that cannot be reached (TargetError) leaves its jobs unread, the metric ones still judged."""
    wanted = env.jobs
    prom = fixture("prom") if env.prometheus and any(j.metric for j in wanted) else None
    runner = None
    if env.database is not None and any(j.sql for j in wanted):
        from postdeploy.checks.database import sql_runner

        try:
            runner = sql_runner(fixture("db"))
        except TargetError as exc:
            runner = sql_runner(None, str(exc))
    return jobs_schedule(wanted, prom, runner, time.time() if now is None else now, env.thresholds)


def jobs_schedule(
    jobs: list[Job], prom: PromClient | None, sql_runner: Callable[[str], Any] | None, now: float, th: Thresholds
) -> Result:
    """Each configured job ran within its interval x grace."""
    if not jobs:
        return not_configured("add [[jobs]] entries (name, interval, metric or sql) to the environment file")
    evidence: dict[str, Any] = {}
    # late: read, and older than allowed (the only reason to say "late"); wrong: misconfigured,
    # the environment file's fault, said as such; unread: no evidence either way, never "late",
    # never a pass.
    found: dict[str, list[str]] = {"late": [], "wrong": [], "unread": [], "ok": []}
    for job in jobs:
        kind, line, seen = _judge_job(job, prom, sql_runner, now, th)
        found[kind].append(line)
        if seen is not None:
            evidence[job.name] = seen
    return _jobs_result(len(jobs), found["late"], found["wrong"], found["unread"], evidence)


def _judge_job(
    job: Job, prom: PromClient | None, sql_runner: Callable[[str], Any] | None, now: float, th: Thresholds
) -> tuple[str, str, str | None]:
    """One job: ("late" | "wrong" | "unread" | "ok", what to say about it, its evidence line or None)."""
    source = f"metric {job.metric}" if job.metric else f"SQL {job.sql}"
    limit = job.interval * th.job_grace
    if bool(job.metric) == bool(job.sql):
        return "wrong", f"{job.name}: configure exactly one of metric or sql", None
    try:
        last = job_last_run(job, prom, sql_runner)
    except TargetError as exc:
        return "unread", f"{job.name}: cannot read its last run: {exc}", f"{source}: could not be read"
    except (TypeError, ValueError) as exc:  # a row that is not a time (a text, a tuple ...)
        return (
            "unread",
            f"{job.name}: {source} did not return a time ({type(exc).__name__}: {exc})",
            f"{source}: not a time",
        )
    if last is None or not math.isfinite(last) or last <= 0:
        # Nothing, NaN or 0 (a last-run gauge never set since the process started): no run known.
        what = "nothing" if last is None else last
        return "unread", f"{job.name}: no last run known ({source} returned {what})", f"{source}: no data"
    age = now - last
    seen = f"last run {human(max(age, 0))} ago, every {human(job.interval)}, late after {human(limit)}; {source}"
    if age > limit:
        line = (
            f"{job.name}: last run {human(age)} ago, expected every {human(job.interval)} (late after {human(limit)})"
        )
        return "late", line, seen
    return "ok", "", seen


def _jobs_result(count: int, late: list[str], wrong: list[str], unread: list[str], evidence: dict[str, Any]) -> Result:
    """Failed on a late or misconfigured job, inconclusive on an unread one, else passed."""
    if late or wrong:
        parts = []
        if late:
            parts.append("background jobs late: " + "; ".join(late))
        if wrong:
            parts.append("jobs misconfigured: " + "; ".join(wrong))
        if unread:
            parts.append("not read (neither late nor on time): " + "; ".join(unread))
        return failed(
            ". ".join(parts),
            value=len(late) + len(wrong),
            threshold="0 late jobs",
            evidence=evidence,
            advice=advice("jobs.schedule") if late else "fix the [[jobs]] entries of the environment file",
        )
    if unread:
        return inconclusive(
            "cannot tell whether the background jobs ran: " + "; ".join(unread),
            value=None,
            threshold="0 late jobs",
            evidence=evidence,
            advice="make the job's metric (Prometheus) or SQL readable from here, then run this phase again",
        )
    return passed(f"{count} jobs ran within their intervals", value=0, threshold="0 late jobs", evidence=evidence)


# -- item 18 ----------------------------------------------------------------------------------
def business_rate(
    prom: PromClient, name: str, query: str, seconds: float, bounds: list[float]
) -> tuple[str, str, dict[str, Any]]:
    """Judge one business counter per hour: ("ok"|"bad"|"unsure", sentence, evidence)."""
    low, high = (list(bounds) + [0.0, math.inf])[:2]
    count = prom.value(query) or 0.0
    hourly = trends.per_hour(count, seconds)
    state, why = trends.business_verdict(count, seconds, low, high)
    shown = f"{name} {hourly:.0f}/h ({count:.0f} in {human(seconds)}): {why}"
    evidence = {f"{name} query": query, name: f"{shown} (alert < {low:g} or > {high:g}/h)"}
    return state, ("inconclusive: " if state == "unsure" else "") + shown, evidence


def analytics(prom: PromClient, job: str, seconds: float, th: Thresholds) -> Result:
    """Registrations and transactions per hour within the Key-metrics business ranges."""
    rng, counter = _rng(seconds), promqueries.business(job)
    counters = {
        "registrations": (promqueries.increase(counter["registrations"], rng), th.registrations_per_hour),
        "transactions": (promqueries.increase(counter["transactions"], rng), th.transactions_per_hour),
    }
    evidence: dict[str, Any] = {}
    verdicts = []
    try:
        for name, (query, bounds) in counters.items():
            state, sentence, ev = business_rate(prom, name, query, seconds, bounds)
            verdicts.append((state, sentence))
            evidence.update(ev)
    except TargetError as exc:
        return unreachable(f"cannot read business counters: {exc}", evidence=evidence, advice=advice("analytics"))
    text = "; ".join(s for _, s in verdicts)
    if any(s == "bad" for s, _ in verdicts):
        return failed(text, threshold="Key metrics business ranges", evidence=evidence, advice=advice("analytics"))
    if any(s == "unsure" for s, _ in verdicts):
        return inconclusive(text, threshold="Key metrics business ranges", evidence=evidence)
    return passed(text, threshold="Key metrics business ranges", evidence=evidence)
