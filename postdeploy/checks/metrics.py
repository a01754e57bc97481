"""Metric checks on Prometheus: error rate and p95 latency over the window since the deploy.

Windows start at the deploy (the old release's errors are not the new one's) and reach
back at most the configured window. Below the minimum sample the result is
"inconclusive", never "passed".

Counting since the deploy: `increase()` cannot see what a series counted before its first
scrape, and after a deploy every series is new (an error type that appears once is not
seen at all). When the window starts at the deploy, the counters of the processes that
started with it count from zero, so their raw values are exact: the queries select those
processes by `process_start_time_seconds` and sum the raw values. Where a target exports
no start time, the queries fall back to `increase()` over the window.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from postdeploy.checks.advice import advice
from postdeploy.config import Thresholds
from postdeploy.core.durations import promql_duration
from postdeploy.core.errors import TargetError
from postdeploy.core.results import Result, failed, inconclusive, passed, unreachable
from postdeploy.sources import promqueries
from postdeploy.sources.promql import PromClient

# prometheus_client derives the start time from the kernel's whole-second boot time.
START_TIME_SLACK = 5.0


@dataclass(frozen=True)
class Window:
    """The stretch of time judged: its length and, when it starts at the deploy, the deploy time."""

    seconds: float
    deployed_at: float | None = None

    def __str__(self) -> str:
        return promql_duration(self.seconds) + (" since the deploy" if self.deployed_at else "")

    def total(self, selector: str, job: str, *, exact: bool = True) -> str:
        """PromQL for how much a counter grew in the window (exact since a deploy when it can be)."""
        if exact and self.deployed_at is not None:
            return f"sum({selector} and on(instance) {self._fresh(job)})"
        return f"sum(increase({selector}[{promql_duration(self.seconds)}]))"

    def total_by(self, label: str, selector: str, job: str, *, exact: bool = True) -> str:
        """As `total`, per value of `label` (the diagnosis of a failing check reads the check's own window)."""
        if exact and self.deployed_at is not None:
            return f"sum by ({label}) ({selector} and on(instance) {self._fresh(job)})"
        return f"sum by ({label}) (increase({selector}[{promql_duration(self.seconds)}]))"

    def buckets(self, selector: str, job: str, *, exact: bool = True) -> str:
        if exact and self.deployed_at is not None:
            return f"sum by (le) ({selector} and on(instance) {self._fresh(job)})"
        return f"sum by (le) (rate({selector}[{promql_duration(self.seconds)}]))"

    def _fresh(self, job: str) -> str:
        start = (self.deployed_at or 0) - START_TIME_SLACK
        return promqueries.started_after(job, start)


def window_since(deployed_at: datetime | None, now: float, longest: float) -> Window:
    """Return the window to judge: from the deploy to now, capped at `longest` seconds."""
    if deployed_at is None:
        return Window(longest)
    since = now - deployed_at.timestamp()
    if since > longest:
        return Window(longest)
    return Window(max(1.0, since), deployed_at.timestamp())


def error_rate_queries(job: str, window: Window, *, exact: bool = True) -> dict[str, str]:
    """Return the PromQL for requests, 5xx answers and unhandled exceptions over the window.

    The reference service counts an unhandled exception in `errors_total` and not in
    `http_requests_total`, so a 5xx-only rate reads 0 % during a database outage.
    """
    return {name: window.total(selector, job, exact=exact) for name, selector in promqueries.traffic(job).items()}


def _ask(prom: PromClient, build: object, key: str) -> tuple[dict[str, str], dict[str, float | None]]:
    """Run the exact queries; when the target exports no start time, the increase() ones."""
    queries = build(exact=True)  # type: ignore[operator]
    values = {k: prom.value(q) for k, q in queries.items()}
    if values[key] is None:
        fallback = build(exact=False)  # type: ignore[operator]
        if fallback != queries:
            queries, values = fallback, {k: prom.value(q) for k, q in fallback.items()}
    return queries, values


def rate_of(requests: float, errors_5xx: float, unhandled: float) -> float:
    """Return the error ratio: (5xx + unhandled) / (requests + unhandled); 0 requests -> 0."""
    total = requests + unhandled
    return 0.0 if total <= 0 else min(1.0, (errors_5xx + unhandled) / total)


def error_rate(prom: PromClient, job: str, window: Window, th: Thresholds) -> Result:
    """5xx answers plus unhandled exceptions, as a share of all requests, below the threshold."""
    evidence: dict[str, object] = {"window": str(window)}
    try:
        queries, values = _ask(prom, lambda exact: error_rate_queries(job, window, exact=exact), "requests")
    except TargetError as exc:
        return unreachable(f"cannot read the error rate: {exc}", evidence=evidence, advice=advice("error_rate"))
    evidence.update({f"query {k}": q for k, q in queries.items()})
    requests = values["requests"]
    if requests is None:
        return inconclusive(
            f"no data: Prometheus has no {promqueries.REQUESTS} for job {job!r} in {window} "
            "(is the job scraped? is the job name right?)",
            value=None,
            threshold=f"< {th.error_rate:.1%}",
            evidence=evidence,
        )
    e5, unhandled = values["5xx"] or 0.0, values["unhandled"] or 0.0
    evidence.update(_error_counts(requests, e5, unhandled))
    return _judge_error_rate(requests, e5, unhandled, window, th, evidence)


def _error_counts(requests: float, e5: float, unhandled: float) -> dict[str, str]:
    """The counts behind an error rate, for the evidence.

    The service counts an unhandled exception in errors_total, not in http_requests_total:
    the requests judged are both, and the summary and the evidence say the same numbers.
    """
    total = requests + unhandled
    return {
        "requests judged (answered + unhandled)": f"{total:.0f}",
        "errors judged (5xx + unhandled)": f"{e5 + unhandled:.0f}",
        f"answered ({promqueries.REQUESTS})": f"{requests:.0f}",
        f"5xx answers ({promqueries.REQUESTS}, status 5xx)": f"{e5:.0f}",
        f"unhandled exceptions ({promqueries.UNHANDLED}, not in {promqueries.REQUESTS})": f"{unhandled:.0f}",
    }


def _judge_error_rate(
    requests: float, e5: float, unhandled: float, window: Window, th: Thresholds, evidence: dict[str, object]
) -> Result:
    """Inconclusive below the minimum sample; failed (critical past the rollback bound) at the threshold."""
    total = requests + unhandled
    # The counts a watch decides on (postdeploy/outputs/watch.py); a later run may read them back too.
    counts = {"requests": total, "errors": e5 + unhandled}
    if total < th.min_requests:
        return inconclusive(
            f"inconclusive: {total:.0f} requests in {window}, need {th.min_requests} to judge an error rate",
            value=f"{total:.0f} requests",
            threshold=f">= {th.min_requests} requests",
            evidence=evidence,
            data=counts,
        )
    rate = rate_of(requests, e5, unhandled)
    shown = (
        f"{rate:.2%} ({e5 + unhandled:.0f} of {total:.0f} requests: {e5:.0f} 5xx of {requests:.0f} answered, "
        f"{unhandled:.0f} unhandled exceptions)"
    )
    if rate >= th.error_rate_rollback:
        return failed(
            f"error rate {shown} is above the rollback bound {th.error_rate_rollback:.0%}",
            value=round(rate, 5),
            threshold=f"< {th.error_rate:.1%}",
            evidence=evidence,
            data=counts,
            advice=advice("error_rate"),
            severity="critical",
        )
    if rate >= th.error_rate:
        return failed(
            f"error rate {shown} is above {th.error_rate:.1%}",
            value=round(rate, 5),
            threshold=f"< {th.error_rate:.1%}",
            evidence=evidence,
            data=counts,
            advice=advice("error_rate"),
        )
    return passed(
        f"error rate {shown}", value=round(rate, 5), threshold=f"< {th.error_rate:.1%}", evidence=evidence, data=counts
    )


def latency_queries(job: str, window: Window, quantile: float = 0.95, *, exact: bool = True) -> dict[str, str]:
    buckets = window.buckets(promqueries.duration_buckets(job), job, exact=exact)
    return {
        "count": window.total(promqueries.duration_count(job), job, exact=exact),
        "quantile": f"histogram_quantile({quantile}, {buckets})",
    }


def latency_p95(prom: PromClient, job: str, window: Window, th: Thresholds) -> Result:
    """The 95th percentile of request duration over the window is below the threshold."""
    evidence: dict[str, object] = {"window": str(window)}
    limit = f"< {th.latency_p95 * 1000:.0f} ms"
    try:
        queries, values = _ask(prom, lambda exact: latency_queries(job, window, exact=exact), "count")
        count, p95 = values["count"], values["quantile"]
    except TargetError as exc:
        return unreachable(f"cannot read the response time: {exc}", evidence=evidence, advice=advice("latency.p95"))
    evidence.update({f"query {k}": q for k, q in queries.items()})
    if count is None or p95 is None:
        return inconclusive(
            f"no data: no {promqueries.DURATION} for job {job!r} in {window}",
            threshold=limit,
            evidence=evidence,
        )
    evidence["requests"] = f"{count:.0f}"
    sample = {"requests": count, "p95": p95}
    if count < th.min_requests:
        return inconclusive(
            f"inconclusive: {count:.0f} requests in {window}, need {th.min_requests} to judge a p95",
            value=f"{count:.0f} requests",
            threshold=f">= {th.min_requests} requests",
            evidence=evidence,
            data=sample,
        )
    shown = f"p95 {p95 * 1000:.0f} ms over {count:.0f} requests"
    if p95 >= th.latency_p95:
        return failed(
            f"{shown} is above {th.latency_p95 * 1000:.0f} ms",
            value=f"{p95 * 1000:.0f} ms",
            threshold=limit,
            evidence=evidence,
            advice=advice("latency.p95"),
            data=sample,
        )
    return passed(shown, value=f"{p95 * 1000:.0f} ms", threshold=limit, evidence=evidence, data=sample)
