"""A synthetic "yesterday" for the sandbox's Prometheus: what `offset 1d` comparisons read.

Written with `promtool tsdb create-blocks-from openmetrics` into the TSDB before the server
starts (blocks present at start are visible at once). The series carry the live job label,
so that `offset 1d` finds them, plus `instance="history"` and `source="sandbox-history"`
of their own, so they never collide with the live scrape; they end hours before "now", so
an instant query of today never sees them.

The shape copies a healthy sandbox: the synthetic traffic's request mix at ~9.5 req/s, the
latency distribution it shows on this machine, a flat CPU, and a slow memory climb.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

from sandbox import traffic

STEP = 15.0  # seconds between samples
BEFORE = 1 * 3600.0  # yesterday's data starts this long before now - 1d ...
AFTER = 3 * 3600.0  # ... and covers a sandbox that lives this long
DAY = 86400.0
REQUEST_RATE = 9.5  # requests/s, all endpoints
# Cumulative share of requests at or below each bucket, as measured on a healthy sandbox.
LATENCY = {
    "0.005": 0.71,
    "0.01": 0.84,
    "0.025": 0.96,
    "0.05": 0.978,
    "0.075": 0.983,
    "0.1": 0.988,
    "0.25": 1.0,
    "0.5": 1.0,
    "0.75": 1.0,
    "1.0": 1.0,
    "2.5": 1.0,
    "5.0": 1.0,
    "7.5": 1.0,
    "10.0": 1.0,
    "+Inf": 1.0,
}
MEAN_LATENCY = 0.008
RSS_START = 44 * 1024 * 1024
RSS_GROWTH_PER_HOUR = 0.5 * 1024 * 1024
CPU_CORES = 0.04
# (path, method, status) the synthetic traffic produces, by its own endpoint labels.
ENDPOINTS = {
    "/api/v1/ping": ("GET", "200"),
    "/api/v1/health": ("GET", "200"),
    "/api/v1/readiness": ("GET", "200"),
    "/api/v1/version": ("GET", "200"),
    "/api/v1/": ("GET", "200"),
    "/api/v1/projects": ("GET", "200"),
    "/api/v1/escrow/transactions": ("GET", "200"),
    "/api/v1/notifications": ("GET", "404"),
    "signup": ("POST", "201"),
    "escrow": ("POST", "201"),
}
LABELS = {"signup": "/api/v1/auth/signup", "escrow": "/api/v1/escrow/hold", "/api/v1/": "/api/v1"}


def _labels(**kw: str) -> str:
    return "{" + ",".join(f'{k}="{v}"' for k, v in kw.items()) + "}"


def openmetrics(job: str, now: float) -> str:
    """The OpenMetrics text of yesterday's series (timestamps in seconds)."""
    start = now - DAY - BEFORE
    steps = int((BEFORE + AFTER) / STEP)
    times = [start + i * STEP for i in range(steps + 1)]
    weights = {path: w for path, _, w in traffic.REQUESTS}
    total_w = sum(weights.get(p, 0.0) for p in ENDPOINTS)
    own = {"job": job, "instance": "history", "source": "sandbox-history"}
    out = ["# TYPE http_requests counter"]
    for path, (method, status) in ENDPOINTS.items():
        rate = REQUEST_RATE * weights.get(path, 0.0) / total_w
        endpoint = LABELS.get(path, path)
        lab = _labels(**own, method=method, endpoint=endpoint, status=status)
        out += [f"http_requests_total{lab} {rate * (t - start):.3f} {t:.0f}" for t in times]
    # One histogram for all endpoints (the comparisons read the overall quantiles): a
    # histogram per endpoint would multiply the samples, and `sandbox up` must stay fast.
    out.append("# TYPE http_request_duration_seconds histogram")
    for le, share in LATENCY.items():
        lab = _labels(**own, method="GET", endpoint="/api/v1/ping", le=le)
        out += [
            f"http_request_duration_seconds_bucket{lab} {REQUEST_RATE * share * (t - start):.3f} {t:.0f}" for t in times
        ]
    lab = _labels(**own, method="GET", endpoint="/api/v1/ping")
    out += [f"http_request_duration_seconds_count{lab} {REQUEST_RATE * (t - start):.3f} {t:.0f}" for t in times]
    out += [
        f"http_request_duration_seconds_sum{lab} {REQUEST_RATE * MEAN_LATENCY * (t - start):.4f} {t:.0f}" for t in times
    ]
    out.append("# TYPE process_resident_memory_bytes gauge")
    lab = _labels(**own)
    out += [
        f"process_resident_memory_bytes{lab} {RSS_START + RSS_GROWTH_PER_HOUR * (t - start) / 3600:.0f} {t:.0f}"
        for t in times
    ]
    out.append("# TYPE process_cpu_seconds counter")
    out += [f"process_cpu_seconds_total{lab} {CPU_CORES * (t - start):.3f} {t:.0f}" for t in times]
    out.append("# EOF")
    return "\n".join(out) + "\n"


def write_blocks(tsdb: Path, job: str, work: Path, now: float | None = None) -> None:
    """Build yesterday's blocks into `tsdb` (before Prometheus starts); a failure is raised."""
    promtool = shutil.which("promtool")
    if promtool is None:
        raise RuntimeError("promtool is not installed (it comes with the prometheus package)")
    tsdb.mkdir(parents=True, exist_ok=True)
    source = work / "history.om"
    source.write_text(openmetrics(job, now or time.time()))
    proc = subprocess.run(
        [promtool, "tsdb", "create-blocks-from", "openmetrics", str(source), str(tsdb)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    source.unlink(missing_ok=True)
    if proc.returncode != 0:
        raise RuntimeError(f"promtool could not write the history blocks: {proc.stderr[-400:]}")
