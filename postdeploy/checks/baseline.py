"""Baselines: the pre-deployment snapshot (stored in the record), item 22's comparison, item 27's trend.

A snapshot is request rate, error rate and p50/p95/p99, overall and per critical endpoint,
over a window that ends now (or `offset` ago: the same window yesterday or last week).
"""

from __future__ import annotations

import math
import time
from typing import Any

from postdeploy.checks import trends
from postdeploy.checks.advice import advice
from postdeploy.config import Baseline, Environment, Thresholds
from postdeploy.core.durations import human, promql_duration
from postdeploy.core.errors import TargetError
from postdeploy.core.results import Result, failed, inconclusive, passed, unreachable
from postdeploy.run.pastruns import History
from postdeploy.sources import promqueries
from postdeploy.sources.promql import PromClient

QUANTILES = {"p50": 0.5, "p95": 0.95, "p99": 0.99}


def snapshot_queries(job: str, seconds: float, offset: str = "", by: str = "") -> dict[str, str]:
    """PromQL for one snapshot; `by="endpoint"` splits each by endpoint."""
    rng = f"[{promql_duration(seconds)}]" + (f" offset {offset}" if offset else "")
    out = {name: promqueries.increase(selector, rng, by) for name, selector in promqueries.traffic(job).items()}
    for name, q in QUANTILES.items():
        out[name] = promqueries.latency_quantile(q, job, rng, by)
    return out


def _finite(v: float | None) -> float | None:
    return v if v is not None and math.isfinite(v) else None


def _summarise(values: dict[str, float | None], seconds: float) -> dict[str, Any]:
    requests, e5, unhandled = values.get("requests"), values.get("5xx") or 0.0, values.get("unhandled") or 0.0
    total = None if requests is None else requests + unhandled
    out: dict[str, Any] = {
        "requests": None if total is None else round(total, 1),
        "request_rate": None if total is None else round(total / seconds, 4),
        "error_rate": None if not total else round(min(1.0, (e5 + unhandled) / total), 5),
    }
    for name in QUANTILES:
        q = _finite(values.get(name))
        out[name] = None if q is None else round(q, 5)
    return out


def snapshot(prom: PromClient, job: str, seconds: float, endpoints: list[str], offset: str = "") -> dict[str, Any]:
    """Measure a snapshot (raises TargetError when Prometheus cannot be asked)."""
    queries = snapshot_queries(job, seconds, offset)
    values = {k: _finite(prom.value(q)) for k, q in queries.items()}
    snap: dict[str, Any] = {"window_s": round(seconds, 1), "offset": offset, "at": round(time.time(), 1)}
    snap.update(_summarise(values, seconds))
    snap["queries"] = queries
    if endpoints:
        by = snapshot_queries(job, seconds, offset, by="endpoint")
        rows: dict[str, dict[str, float | None]] = {ep: {} for ep in endpoints}
        for k, q in by.items():
            for s in prom.query(q):
                ep = s.labels.get("endpoint", "")
                if ep in rows:
                    rows[ep][k] = _finite(s.value)
        snap["endpoints"] = {ep: _summarise(v, seconds) for ep, v in rows.items()}
    return snap


def measure(
    prom: PromClient, job: str, pairs: dict[str, tuple[float, str]], endpoints: list[str] | None = None
) -> tuple[dict[str, dict[str, Any]], Result | None]:
    """Several snapshots by name -> (seconds, offset); a Prometheus failure is a failed result, not a traceback."""
    out = {}
    for name, (seconds, offset) in pairs.items():
        try:
            out[name] = snapshot(prom, job, seconds, endpoints or [], offset=offset)
        except TargetError as exc:
            return out, unreachable(f"cannot measure {name}: {exc}")
    return out, None


def endpoint_lines(current: dict[str, Any], base: dict[str, Any]) -> dict[str, str]:
    """Per-endpoint now vs baseline, for the evidence (the verdict is on the overall figures)."""
    out = {}
    for ep, then in (base.get("endpoints") or {}).items():
        now = (current.get("endpoints") or {}).get(ep, {})
        out[f"endpoint {ep}"] = f"now {describe(now)}; baseline {describe(then)}"
    return out


def describe(snap: dict[str, Any]) -> str:
    def ms(v: Any) -> str:
        return "n/a" if v is None else human(float(v))

    rate = snap.get("request_rate")
    err = snap.get("error_rate")
    return (
        f"{'n/a' if rate is None else f'{rate:.2f}'} req/s, errors {'n/a' if err is None else f'{err:.2%}'}, "
        f"p50 {ms(snap.get('p50'))} p95 {ms(snap.get('p95'))} p99 {ms(snap.get('p99'))}"
    )


def key_actions(snap: dict[str, Any], th: Thresholds) -> list[str]:
    """The Key-metrics lines a snapshot breaches, with the action the checklist names."""
    out = []
    err, p50, p95, p99 = (snap.get(k) for k in ("error_rate", "p50", "p95", "p99"))
    if err is not None and err > th.key_error_rate:
        out.append(f"error rate {err:.2%} > {th.key_error_rate:.0%}: investigate immediately")
    if p95 is not None and p95 > th.key_latency_p95:
        out.append(f"p95 {human(p95)} > {human(th.key_latency_p95)}: check slow queries")
    elif p95 is not None and p95 > th.latency_p95:
        out.append(f"p95 {human(p95)} > {human(th.latency_p95)}: investigate")
    if p50 is not None and p50 > th.latency_p50:
        out.append(f"p50 {human(p50)} > target {human(th.latency_p50)}: optimise")
    if p99 is not None and p99 > th.latency_p99:
        out.append(f"p99 {human(p99)} > target {human(th.latency_p99)}: review slow queries")
    return out


def captured(prom: PromClient, job: str, seconds: float, endpoints: list[str], th: Thresholds) -> Result:
    """Pre-deployment: measure the baseline and keep it as structured data in the record."""
    try:
        snap = snapshot(prom, job, seconds, endpoints)
    except TargetError as exc:
        return unreachable(f"cannot measure the baseline: {exc}", advice=advice("baseline.captured"))
    evidence: dict[str, Any] = {f"query {k}": q for k, q in snap["queries"].items()}
    evidence["window"] = human(seconds)
    for ep, row in snap.get("endpoints", {}).items():
        evidence[f"endpoint {ep}"] = describe(row)
    actions = key_actions(snap, th)
    if actions:
        evidence["key metrics"] = "; ".join(actions)
    if not trends.enough(snap["requests"], th.min_requests):
        return inconclusive(
            trends.short_of(snap["requests"], th.min_requests, "requests", human(seconds)) + ": no baseline stored",
            value=snap["requests"],
            threshold=f">= {th.min_requests} requests",
            evidence=evidence,
        )
    return passed(
        f"baseline stored: {describe(snap)} over {human(seconds)}",
        value={k: snap[k] for k in ("request_rate", "error_rate", "p50", "p95", "p99")},
        evidence=evidence,
        data={"baseline": snap},
    )


def from_history(history: History) -> tuple[str, dict[str, Any]] | None:
    """The newest pre-deployment baseline of this environment: (where, snapshot)."""
    for folder, record in history.records():
        if "pre_deploy" not in str(record.get("phase", "")):
            continue
        for c in record.get("checks", []):
            snap = (c.get("data") or {}).get("baseline") if c.get("id") == "baseline.captured" else None
            if isinstance(snap, dict) and snap.get("request_rate") is not None:
                return f"pre_deploy record {folder.name} (version {record.get('version') or '?'})", snap
    return None


def compare(
    current: dict[str, Any],
    base: dict[str, Any],
    source: str,
    cfg: Baseline,
    th: Thresholds,
    check_id: str,
    tolerance: float | None = None,
) -> Result:
    """Request rate, p95 and error rate of `current` against `base`; each drift with its floor."""
    drifts = _drifts(current, base, cfg, tolerance)
    evidence = _compare_evidence(current, base, source, drifts, th)
    data = {"current": {k: v for k, v in current.items() if k != "queries"}, "baseline_source": source}
    # What every outcome of the comparison carries.
    common: dict[str, Any] = {
        "value": {d.name: d.delta for d in drifts},
        "threshold": {d.name: d.allowed for d in drifts},
        "evidence": evidence,
        "data": data,
    }
    short = _too_few_requests(current, base, source, th)
    if short:
        return inconclusive(short, **common)
    bad = [d for d in drifts if d.ok is False]
    if bad:
        return failed(
            "out of tolerance vs baseline: " + "; ".join(d.line() for d in bad), advice=advice(check_id), **common
        )
    unknown = [d for d in drifts if d.ok is None and d.name != "error rate"]
    if unknown:
        return inconclusive(
            "cannot compare: "
            + "; ".join(d.line() for d in unknown)
            + (f"; {trends.NO_HISTORY}" if any(d.baseline is None for d in unknown) else ""),
            **common,
        )
    return passed("within tolerance of the baseline: " + "; ".join(d.line() for d in drifts), **common)


def _drifts(current: dict[str, Any], base: dict[str, Any], cfg: Baseline, tolerance: float | None) -> list[trends.Drift]:
    """Request rate, p95 and error rate compared; `tolerance`, when given, replaces the configured ones."""
    rate_tol = cfg.rate_tolerance if tolerance is None else tolerance
    lat_tol = cfg.latency_tolerance if tolerance is None else tolerance
    err_ratio = cfg.error_ratio if tolerance is None else 1 + tolerance
    return [
        trends.compare_rate(
            "request rate", current.get("request_rate"), base.get("request_rate"), rate_tol, cfg.rate_floor
        ),
        trends.compare_latency("p95 latency", current.get("p95"), base.get("p95"), lat_tol, cfg.latency_floor),
        trends.compare_errors(
            "error rate", current.get("error_rate"), base.get("error_rate"), err_ratio, cfg.error_floor
        ),
    ]


def _compare_evidence(
    current: dict[str, Any], base: dict[str, Any], source: str, drifts: list[trends.Drift], th: Thresholds
) -> dict[str, Any]:
    evidence: dict[str, Any] = {"baseline": source, "now": describe(current), "then": describe(base)}
    evidence.update({f"query now {k}": q for k, q in current.get("queries", {}).items()})
    evidence.update({f"query baseline {k}": q for k, q in base.get("queries", {}).items()})
    for d in drifts:
        evidence[d.name] = d.line()
    evidence.update(endpoint_lines(current, base))
    actions = key_actions(current, th)
    if actions:
        evidence["key metrics"] = "; ".join(actions)
    return evidence


def _too_few_requests(current: dict[str, Any], base: dict[str, Any], source: str, th: Thresholds) -> str:
    """Why now or the baseline has too few requests to compare ("" when both have enough)."""
    for name, snap in (("now", current), ("baseline", base)):
        if not trends.enough(snap.get("requests"), th.min_requests):
            window = human(float(snap.get("window_s") or 0))
            return trends.short_of(snap.get("requests"), th.min_requests, f"requests ({name})", window) + (
                f" ({source}); {trends.NO_HISTORY}" if name == "baseline" else ""
            )
    return ""


def against_baseline(prom: PromClient, env: Environment, seconds: float, history: History, check_id: str) -> Result:
    """Item 22: the current window against the newest pre_deploy baseline, else the same window `baseline.offset` ago."""
    assert env.prometheus is not None
    found = from_history(history)
    pairs = {"the current window": (seconds, "")}
    source = ""
    if found is None:
        # Yesterday's window is the whole phase window: the deploy does not cut it.
        offset, whole = env.baseline.offset, env.windows.first_24h
        pairs["the baseline"] = (whole, offset)
        source = f"no pre_deploy baseline in the record history: the {human(whole)} before now, {offset} ago"
    # Per-endpoint figures where the stored baseline has them (shown, not judged).
    endpoints = list((found[1].get("endpoints") or {}) if found else [])
    snaps, error = measure(prom, env.prometheus.job, pairs, endpoints)
    if error is not None:
        return error
    source, base = found if found is not None else (source, snaps["the baseline"])
    return compare(snaps["the current window"], base, source, env.baseline, env.thresholds, check_id)
