"""Metric checks on Prometheus: error rate and p95 latency over the window since the deploy.

Windows start at the deploy (the old release's errors are not the new one's) and reach
back at most the configured window. Below the minimum sample the result is
"inconclusive", never "passed".
"""

from __future__ import annotations

from datetime import datetime

from postdeploy.checks.advice import advice
from postdeploy.config import Thresholds
from postdeploy.durations import promql_duration
from postdeploy.errors import TargetError
from postdeploy.promql import PromClient
from postdeploy.results import Result, failed, inconclusive, passed


def window_since(deployed_at: datetime | None, now: float, longest: float) -> float:
    """Return the window to judge: from the deploy to now, capped at `longest` seconds."""
    if deployed_at is None:
        return longest
    return max(1.0, min(longest, now - deployed_at.timestamp()))


def error_rate_queries(job: str, window: float) -> dict[str, str]:
    """Return the PromQL for requests, 5xx answers and unhandled exceptions over the window.

    The reference service counts an unhandled exception in `errors_total` and not in
    `http_requests_total`, so a 5xx-only rate reads 0 % during a database outage.
    """
    w, sel = promql_duration(window), f'job="{job}"'
    return {
        "requests": f"sum(increase(http_requests_total{{{sel}}}[{w}]))",
        "5xx": f'sum(increase(http_requests_total{{{sel},status=~"5.."}}[{w}]))',
        "unhandled": f"sum(increase(errors_total{{{sel}}}[{w}]))",
    }


def rate_of(requests: float, errors_5xx: float, unhandled: float) -> float:
    """Return the error ratio: (5xx + unhandled) / (requests + unhandled); 0 requests -> 0."""
    total = requests + unhandled
    return 0.0 if total <= 0 else min(1.0, (errors_5xx + unhandled) / total)


def error_rate(prom: PromClient, job: str, window: float, th: Thresholds) -> Result:
    """5xx answers plus unhandled exceptions, as a share of all requests, below the threshold."""
    queries = error_rate_queries(job, window)
    evidence: dict[str, object] = {"window": promql_duration(window), **{f"query {k}": q for k, q in queries.items()}}
    try:
        values = {k: prom.value(q) for k, q in queries.items()}
    except TargetError as exc:
        return failed(f"cannot read the error rate: {exc}", evidence=evidence, advice=advice("error_rate"))
    requests = values["requests"]
    if requests is None:
        return inconclusive(
            f"no data: Prometheus has no http_requests_total for job {job!r} in the last {promql_duration(window)} "
            "(is the job scraped? is the job name right?)",
            value=None,
            threshold=f"< {th.error_rate:.1%}",
            evidence=evidence,
        )
    e5, unhandled = values["5xx"] or 0.0, values["unhandled"] or 0.0
    total = requests + unhandled
    evidence.update({"requests": f"{requests:.0f}", "5xx": f"{e5:.0f}", "unhandled exceptions": f"{unhandled:.0f}"})
    if total < th.min_requests:
        return inconclusive(
            f"inconclusive: {total:.0f} requests in {promql_duration(window)}, need {th.min_requests} to judge an error rate",
            value=f"{total:.0f} requests",
            threshold=f">= {th.min_requests} requests",
            evidence=evidence,
        )
    rate = rate_of(requests, e5, unhandled)
    shown = f"{rate:.2%} ({e5 + unhandled:.0f} of {total:.0f} requests)"
    if rate >= th.error_rate_rollback:
        return failed(
            f"error rate {shown} is above the rollback bound {th.error_rate_rollback:.0%}",
            value=round(rate, 5),
            threshold=f"< {th.error_rate:.1%}",
            evidence=evidence,
            advice=advice("error_rate"),
            severity="critical",
        )
    if rate >= th.error_rate:
        return failed(
            f"error rate {shown} is above {th.error_rate:.1%}",
            value=round(rate, 5),
            threshold=f"< {th.error_rate:.1%}",
            evidence=evidence,
            advice=advice("error_rate"),
        )
    return passed(f"error rate {shown}", value=round(rate, 5), threshold=f"< {th.error_rate:.1%}", evidence=evidence)


def latency_queries(job: str, window: float, quantile: float = 0.95) -> dict[str, str]:
    w, sel = promql_duration(window), f'job="{job}"'
    return {
        "quantile": f"histogram_quantile({quantile}, sum by (le) (rate(http_request_duration_seconds_bucket{{{sel}}}[{w}])))",
        "count": f"sum(increase(http_request_duration_seconds_count{{{sel}}}[{w}]))",
    }


def latency_p95(prom: PromClient, job: str, window: float, th: Thresholds) -> Result:
    """The 95th percentile of request duration over the window is below the threshold."""
    queries = latency_queries(job, window)
    evidence: dict[str, object] = {"window": promql_duration(window), **{f"query {k}": q for k, q in queries.items()}}
    limit = f"< {th.latency_p95 * 1000:.0f} ms"
    try:
        count = prom.value(queries["count"])
        p95 = prom.value(queries["quantile"])
    except TargetError as exc:
        return failed(f"cannot read the response time: {exc}", evidence=evidence, advice=advice("latency.p95"))
    if count is None or p95 is None:
        return inconclusive(
            f"no data: no http_request_duration_seconds for job {job!r} in the last {promql_duration(window)}",
            threshold=limit,
            evidence=evidence,
        )
    evidence["requests"] = f"{count:.0f}"
    if count < th.min_requests:
        return inconclusive(
            f"inconclusive: {count:.0f} requests in {promql_duration(window)}, need {th.min_requests} to judge a p95",
            value=f"{count:.0f} requests",
            threshold=f">= {th.min_requests} requests",
            evidence=evidence,
        )
    shown = f"p95 {p95 * 1000:.0f} ms over {count:.0f} requests"
    if p95 >= th.latency_p95:
        return failed(
            f"{shown} is above {th.latency_p95 * 1000:.0f} ms",
            value=f"{p95 * 1000:.0f} ms",
            threshold=limit,
            evidence=evidence,
            advice=advice("latency.p95"),
        )
    return passed(shown, value=f"{p95 * 1000:.0f} ms", threshold=limit, evidence=evidence)
