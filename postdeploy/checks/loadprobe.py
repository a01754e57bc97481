"""load.probe (P3): a bounded burst of read-only requests, judged on p50/p95/p99 and errors.

Bounds: the request count, the concurrency and the duration are capped by the
environment file and, above that, by hard caps here, so that a typo cannot turn the probe
into a load test against production. Only GET and HEAD are sent.

The probe measures what a client sees, without measuring itself: connections (and TLS
handshakes) are opened by untimed warm-up requests before the burst, each request is timed
around the send alone, and the workers are threads sharing one keep-alive pool.
"""

from __future__ import annotations

import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from postdeploy.checks.advice import advice
from postdeploy.config import LoadProbe
from postdeploy.core.errors import TargetError
from postdeploy.core.results import Result, failed, inconclusive, not_configured, passed
from postdeploy.core.stats import percentile
from postdeploy.sources import promqueries
from postdeploy.sources.apiclient import ApiClient

HARD_MAX_COUNT = 2000
HARD_MAX_CONCURRENCY = 16
HARD_MAX_DURATION = 120.0
READ_ONLY = ("GET", "HEAD")


def parse_endpoints(entries: list[str]) -> list[tuple[str, str]]:
    """Return (method, path) pairs; raise ValueError for a write method or a malformed entry."""
    out = []
    for entry in entries:
        parts = entry.split()
        if len(parts) != 2 or not parts[1].startswith("/"):
            raise ValueError(f"load_probe.endpoints: {entry!r} is not 'METHOD /path'")
        method = parts[0].upper()
        if method not in READ_ONLY:
            raise ValueError(f"load_probe.endpoints: {entry!r} refused: the probe sends only GET and HEAD")
        out.append((method, parts[1]))
    return out


@dataclass
class Burst:
    """What one burst did: latencies of completed requests, errors, and its bounds."""

    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    planned: int = 0
    started_at: float = 0.0
    ended_at: float = 0.0
    stopped_by_duration: bool = False

    @property
    def sent(self) -> int:
        return len(self.latencies) + len(self.errors)


def bounds(cfg: LoadProbe) -> tuple[int, int, float, list[str]]:
    """Return count, concurrency and duration after the hard caps, and a note per capped value."""
    notes = []
    count, conc, dur = cfg.count, cfg.concurrency, float(cfg.max_duration)
    if count > HARD_MAX_COUNT:
        notes.append(f"count {count} capped at {HARD_MAX_COUNT}")
        count = HARD_MAX_COUNT
    if conc > HARD_MAX_CONCURRENCY:
        notes.append(f"concurrency {conc} capped at {HARD_MAX_CONCURRENCY}")
        conc = HARD_MAX_CONCURRENCY
    if dur > HARD_MAX_DURATION:
        notes.append(f"max_duration {dur:g}s capped at {HARD_MAX_DURATION:g}s")
        dur = HARD_MAX_DURATION
    return max(1, count), max(1, conc), max(0.1, dur), notes


def run_burst(
    api: ApiClient, endpoints: list[tuple[str, str]], count: int, concurrency: int, max_duration: float, auth: bool
) -> Burst:
    """Send `count` requests round-robin over the endpoints, `concurrency` at a time, within the duration."""
    burst = Burst(planned=count)
    lock = threading.Lock()
    next_index = [0]

    def one(method: str, path: str) -> None:
        started = time.perf_counter()
        try:
            resp = api.request(method, path, token=auth)
        except TargetError as exc:
            with lock:
                burst.errors.append(f"{method} {path}: {exc}")
            return
        took = time.perf_counter() - started
        with lock:
            if resp.status_code >= 400:
                burst.errors.append(f"{method} {path}: HTTP {resp.status_code}")
            else:
                burst.latencies.append(took)

    def warm(method: str, path: str) -> None:
        try:
            api.request(method, path, token=auth)
        except TargetError:
            pass  # the timed requests will say what is wrong

    def worker(deadline: float) -> None:
        while True:
            with lock:
                i = next_index[0]
                if i >= count:
                    return
                if time.monotonic() >= deadline:
                    burst.stopped_by_duration = True
                    return
                next_index[0] += 1
            one(*endpoints[i % len(endpoints)])

    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="load-probe") as pool:
        # Open the pool's connections (TCP + TLS) before the clock starts.
        list(pool.map(lambda k: warm(*endpoints[k % len(endpoints)]), range(concurrency)))
        burst.started_at = time.time()
        deadline = time.monotonic() + max_duration
        list(pool.map(worker, [deadline] * concurrency))
        burst.ended_at = time.time()
    return burst


def judge(burst: Burst, cfg: LoadProbe, evidence: dict[str, Any]) -> Result:
    """Compare the burst's percentiles and errors with the Key-metrics targets."""
    ms = lambda s: f"{s * 1000:.0f} ms"  # noqa: E731
    limits = f"p50 < {ms(cfg.p50)}, p95 < {ms(cfg.p95)}, p99 < {ms(cfg.p99)}, errors <= {cfg.max_errors}"
    took = burst.ended_at - burst.started_at
    evidence["sent"] = f"{burst.sent} of {burst.planned} planned in {took:.1f}s" + (
        f" (stopped at the {cfg.max_duration:g}s bound)" if burst.stopped_by_duration else ""
    )
    evidence["window"] = f"{burst.started_at:.3f} - {burst.ended_at:.3f} (unix time)"
    for n, err in enumerate(burst.errors[:5], 1):
        evidence[f"error {n}"] = err
    if len(burst.latencies) < cfg.min_requests and len(burst.errors) <= cfg.max_errors:
        return inconclusive(
            f"inconclusive: {len(burst.latencies)} requests completed, need {cfg.min_requests} to judge percentiles",
            value=f"{len(burst.latencies)} requests",
            threshold=f">= {cfg.min_requests} requests",
            evidence=evidence,
        )
    problems = []
    shown = "no successful request"
    value: dict[str, Any] = {"errors": len(burst.errors)}
    if burst.latencies:
        p50, p95, p99 = (percentile(burst.latencies, q) for q in (50, 95, 99))
        value.update({"p50_ms": round(p50 * 1000, 1), "p95_ms": round(p95 * 1000, 1), "p99_ms": round(p99 * 1000, 1)})
        shown = f"p50 {ms(p50)}, p95 {ms(p95)}, p99 {ms(p99)} over {len(burst.latencies)} requests"
        for name, got, limit in (("p50", p50, cfg.p50), ("p95", p95, cfg.p95), ("p99", p99, cfg.p99)):
            if got >= limit:
                problems.append(f"{name} {ms(got)} is above {ms(limit)}")
    if len(burst.errors) > cfg.max_errors:
        problems.append(f"{len(burst.errors)} error(s) (allowed {cfg.max_errors})")
    if problems:
        return failed(
            f"load probe: {'; '.join(problems)} ({shown})",
            value=value,
            threshold=limits,
            evidence=evidence,
            advice=advice("load.probe"),
        )
    return passed(f"load probe: {shown}, {len(burst.errors)} errors", value=value, threshold=limits, evidence=evidence)


def load_probe(api: ApiClient, cfg: LoadProbe) -> Result:
    """Run the bounded burst against the configured read-only endpoints and judge it."""
    try:
        endpoints = parse_endpoints(cfg.endpoints)
    except ValueError as exc:
        return failed(f"refused: {exc}", advice="list only side-effect-free GET/HEAD endpoints in [load_probe]")
    if not endpoints:
        return not_configured('add [load_probe] endpoints = ["GET /path", ...] to the environment file')
    count, conc, dur, notes = bounds(cfg)
    evidence: dict[str, Any] = {
        "endpoints": ", ".join(f"{m} {p}" for m, p in endpoints),
        "bounds": f"{count} requests, {conc} at a time, at most {dur:g}s",
    }
    if notes:
        evidence["capped"] = "; ".join(notes)
    if cfg.auth:
        # One login before the threads start (each would otherwise log in on its own).
        login = api.login()
        if not login.ok:
            return failed(f"cannot run the load probe: the login failed ({login.detail})", evidence=evidence)
    burst = run_burst(api, endpoints, count, conc, dur, cfg.auth)
    return judge(burst, cfg, evidence)


def server_p50_query(job: str, paths: list[str], seconds: float) -> str:
    """PromQL for the server-side median of the given endpoints over the last `seconds`."""
    alternatives = "|".join(p.rstrip("/") or "/" for p in paths)
    rng = f"[{max(1, math.ceil(seconds))}s]"
    return promqueries.latency_quantile(0.5, job, rng, fn="increase", extra=f'endpoint=~"{alternatives}"')
