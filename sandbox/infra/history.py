"""History for the sandbox's Prometheus: what windows of hours and days, and offsets, read.

Written with `promtool tsdb create-blocks-from openmetrics` into the TSDB before the server
starts (blocks present at start are visible at once). Two shapes:

- By default, a synthetic "yesterday" for `offset 1d` comparisons: a few hours around
  now - 1d, with labels of its own (`instance="history"`, `source="sandbox-history"`) so it
  never collides with the live scrape; it ends hours before "now".
- `python -m sandbox up --history 8d` (`Spec`): days of the service's series ending when
  Prometheus starts, with the live scrape's own labels (job, `instance="127.0.0.1:<port>"`,
  the same method/endpoint/status, task, device/mountpoint sets), so that a window spanning
  history and the live app reads one series. Counters restart at 0 in the live app: a
  counter reset, which rate() and increase() handle. Every history series with the live
  instance is one the live app exports too, so an instant query sees the live value at the
  first scrape, never a stale history value (an `errors_total` series the app does not
  have would otherwise be read as the release's errors for five minutes).

History faults (`--history-fault NAME`, `HISTORY_FAULTS`) write a fault into the history
instead of the live app: the production windows then find it where production would.
"""

from __future__ import annotations

import math
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sandbox.standins import traffic

STEP = 15.0  # seconds between samples (yesterday)
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

# -- days of history (--history) ----------------------------------------------------------------
FINE_STEP = 60.0  # seconds between samples over the last FINE_SPAN (first15, first_hour, the 2 h since a deploy)
FINE_SPAN = 3 * 3600.0
COARSE_STEP = 600.0  # before that: the offset 1d / 1w baselines (windows of hours), the weekly reviews
ALERT_STEP = 60.0  # the ALERTS series, as alerts.tuning reads them (7d at 1m)
DIURNAL = 0.15  # traffic swings +-15 % over the day, at its mean when Prometheus starts
RSS_LIVE = 48 * 1024 * 1024  # what the live app holds after a minute
DB_CONNECTIONS = 5.0  # the live app's pool at rest
# Per-hour rates of the business counters, as the synthetic traffic makes them (item 18).
REGISTRATIONS_PER_S = 0.19
ESCROW_HOLDS_PER_S = 0.5
JOB_INTERVALS = {"wallet_balance_sync": 30.0, "wallet_event_ingestion": 15.0, "email_sending": 10.0}
# The sign-up's second step, as the live app counts it.
EXTRA_REQUESTS = {("POST", "/api/v1/auth/verify-otp", "200"): "signup"}
# A second replica of the release, in the history only (the leak faults): its series stop
# when Prometheus starts, as a replica taken out of service would.
REPLICA = "history-replica:8000"

HISTORY_FAULTS = {
    "traffic_drop": "requests fall to zero for the last hour before the sandbox started",
    "error_burst": "GET /api/v1/projects fails for the last 15 minutes (half 500s, half unhandled "
    f"OperationalError): {traffic.shares()['/api/v1/projects']:.0%} of all requests",
    "latency_regression": "+100 ms on every request since the deploy (the last 2 hours)",
    "memory_leak": "a replica's resident memory grows 400 MB/h over the last hour",
    "connection_leak": "a replica's pool grows from 5 to 23 connections over the last hour",
    "alert_flapping": "HighResponseTime fires 3 minutes of every 2 hours all week (12 episodes a day)",
    "alert_always_firing": "DatabaseConnectionIssues (critical) has been firing for the last 8 days",
}


@dataclass(frozen=True)
class Spec:
    """What `--history` asks for: how far back, which labels join the live scrape, which faults."""

    seconds: float
    instance: str
    mountpoint: str = ""
    disk: tuple[float, float] = (0.0, 0.0)  # (size, avail) as the live app reports them
    faults: tuple[str, ...] = field(default_factory=tuple)


def _labels(**kw: str) -> str:
    return "{" + ",".join(f'{k}="{v}"' for k, v in kw.items()) + "}"


def openmetrics(job: str, now: float) -> str:
    """The OpenMetrics text of yesterday's series (timestamps in seconds)."""
    start = now - DAY - BEFORE
    steps = int((BEFORE + AFTER) / STEP)
    times = [start + i * STEP for i in range(steps + 1)]
    shares = traffic.shares()
    own = {"job": job, "instance": "history", "source": "sandbox-history"}
    out = ["# TYPE http_requests counter"]
    for path, (method, status) in ENDPOINTS.items():
        rate = REQUEST_RATE * shares[path]
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


# -- days of history ----------------------------------------------------------------------------
def grid(start: float, end: float) -> list[float]:
    """Sample times from start to end: every COARSE_STEP, then every FINE_STEP over the last FINE_SPAN."""
    fine_from = max(start, end - FINE_SPAN)
    coarse = [start + i * COARSE_STEP for i in range(int((fine_from - start) / COARSE_STEP))]
    fine = [end - i * FINE_STEP for i in range(int((end - fine_from) / FINE_STEP) + 1)]
    return coarse + fine[::-1]


class Shape:
    """The history's time functions: traffic (diurnal), faults, cumulative counters."""

    def __init__(self, start: float, end: float, faults: tuple[str, ...]) -> None:
        self.start, self.end, self.faults = start, end, faults
        # Integrals over the fault spans, computed once per time on demand (cached by t).
        self._cache: dict[float, float] = {}

    def rate_factor(self, t: float) -> float:
        """Traffic at t as a share of the mean rate: a day's swing, at the mean at `end`."""
        factor = 1.0 + DIURNAL * math.sin(2 * math.pi * (t - self.end) / DAY)
        if "traffic_drop" in self.faults and t > self.end - 3600:
            return 0.0
        return factor

    def served(self, t: float) -> float:
        """Requests served from `start` to t, as a multiple of the mean rate (the integral of rate_factor)."""
        if t in self._cache:
            return self._cache[t]
        w = 2 * math.pi / DAY

        def integral(a: float, b: float) -> float:
            return (b - a) - DIURNAL / w * (math.cos(w * (b - self.end)) - math.cos(w * (a - self.end)))

        value = integral(self.start, t)
        if "traffic_drop" in self.faults and t > self.end - 3600:
            value -= integral(self.end - 3600, t)
        self._cache[t] = value
        return value

    def served_in(self, t: float, seconds: float) -> float:
        """Requests (as a multiple of the mean rate) served from `end - seconds` to t; 0 before."""
        since = self.end - seconds
        return max(0.0, self.served(t) - self.served(since)) if t > since else 0.0


def _series(name: str, labels: str, points: Iterator[tuple[float, float]], fmt: str = ".3f") -> Iterator[str]:
    for t, v in points:
        yield f"{name}{labels} {v:{fmt}} {t:.0f}"


@dataclass(frozen=True)
class _Frame:
    """What every family of `--history` is written over: sample times, traffic shape, live labels."""

    start: float
    times: list[float]
    shape: Shape
    own: dict[str, str]

    def series(self, name: str, labels: str, value: Callable[[float], float], fmt: str = ".3f") -> Iterator[str]:
        """One series: `value(t)` at every sample time."""
        return _series(name, labels, ((t, value(t)) for t in self.times), fmt)

    def counter(self, name: str, labels: str, per_second: float, *, less: float = 0.0) -> Iterator[str]:
        """A counter growing `per_second` of traffic served, minus that of the last `less` seconds."""
        shape = self.shape
        return self.series(name, labels, lambda t: per_second * (shape.served(t) - shape.served_in(t, less)))


def history_openmetrics(job: str, end: float, spec: Spec) -> Iterator[str]:
    """Lines of OpenMetrics text (timestamps in seconds) for `spec.seconds` before `end`, ending in # EOF."""
    start = end - spec.seconds
    frame = _Frame(start, grid(start, end), Shape(start, end, spec.faults), {"job": job, "instance": spec.instance})
    yield from _requests(frame, spec)
    yield from _latency(frame, spec)
    yield from _process(frame)
    yield from _business(frame)
    yield from _disk(frame, spec)
    yield from _replica(job, end, spec)
    yield from _alerts(job, start, end, spec)
    yield "# EOF"


def _requests(frame: _Frame, spec: Spec) -> Iterator[str]:
    """http_requests_total per endpoint as the synthetic traffic makes it; errors_total in an error burst."""
    shape, own = frame.shape, frame.own
    share = traffic.shares()
    # The faults on requests are shares of the requests served (none while traffic_drop holds).
    errors = "error_burst" in spec.faults
    burst = 900.0  # the error burst: the last 15 minutes
    yield "# TYPE http_requests counter"
    requests = [(*ENDPOINTS[p], LABELS.get(p, p), p) for p in ENDPOINTS]
    requests += [(m, e, s, src) for (m, e, s), src in EXTRA_REQUESTS.items()]
    for method, status, endpoint, path in requests:
        rate = REQUEST_RATE * share[path]
        lab = _labels(**own, method=method, endpoint=endpoint, status=status)
        # In a burst, this endpoint's 200s stop; its requests answer 500 or raise (below).
        stopped = burst if errors and endpoint == "/api/v1/projects" else 0.0
        yield from frame.counter("http_requests_total", lab, rate, less=stopped)
    if errors:
        # Every request to /api/v1/projects (traffic.shares()): half a handled 500, half unhandled.
        lost = REQUEST_RATE * share["/api/v1/projects"] / 2
        lab = _labels(**own, method="GET", endpoint="/api/v1/projects", status="500")
        yield from frame.series("http_requests_total", lab, lambda t: lost * shape.served_in(t, burst))
        yield "# TYPE errors counter"
        lab = _labels(**own, error_type="OperationalError", endpoint="/api/v1/projects")
        yield from frame.series("errors_total", lab, lambda t: lost * shape.served_in(t, burst))


def _latency(frame: _Frame, spec: Spec) -> Iterator[str]:
    """One histogram for all requests, on ping's labels (as the live app has them): the checks
    read the overall quantiles; one per endpoint would multiply the samples."""
    shape = frame.shape
    slow = "latency_regression" in spec.faults
    regression = 7200.0
    yield "# TYPE http_request_duration_seconds histogram"
    lab_base = {**frame.own, "method": "GET", "endpoint": "/api/v1/ping"}
    for le, cumulative in LATENCY.items():
        lab = _labels(**lab_base, le=le)

        def bucket(t: float, cumulative: float = cumulative, le: str = le) -> float:
            total = REQUEST_RATE * shape.served(t)
            if not slow:
                return total * cumulative
            # +100 ms: every request of the regression lands in the 0.25 bucket or above.
            moved = REQUEST_RATE * shape.served_in(t, regression)
            bound = math.inf if le == "+Inf" else float(le)
            return (total - moved) * cumulative + (moved if bound >= 0.25 else 0.0)

        yield from frame.series("http_request_duration_seconds_bucket", lab, bucket)
    lab = _labels(**lab_base)
    yield from frame.series("http_request_duration_seconds_count", lab, lambda t: REQUEST_RATE * shape.served(t))
    extra = 0.1 if slow else 0.0
    yield from frame.series(
        "http_request_duration_seconds_sum",
        lab,
        lambda t: REQUEST_RATE * (MEAN_LATENCY * shape.served(t) + extra * shape.served_in(t, regression)),
        ".4f",
    )


def _process(frame: _Frame) -> Iterator[str]:
    """Memory, CPU, start time, the pool and the background jobs' last runs of a steady process."""
    lab = _labels(**frame.own)
    yield "# TYPE process_resident_memory_bytes gauge"
    # Flat at the live app's level, with an allocator's wobble (a fixed pattern, not random).
    yield from frame.series("process_resident_memory_bytes", lab, lambda t: RSS_LIVE + 1.5e6 * math.sin(t / 977.0), ".0f")
    yield "# TYPE process_cpu_seconds counter"
    yield from frame.series("process_cpu_seconds_total", lab, lambda t: CPU_CORES * (t - frame.start))
    yield "# TYPE process_start_time_seconds gauge"
    yield from frame.series("process_start_time_seconds", lab, lambda t: frame.start, ".2f")
    yield "# TYPE db_connections_active gauge"
    yield from frame.series("db_connections_active", lab, lambda t: DB_CONNECTIONS, ".0f")
    yield "# TYPE background_job_last_success_timestamp_seconds gauge"
    for task, interval in JOB_INTERVALS.items():
        # Each job ran at the last multiple of its interval.
        yield from _series(
            "background_job_last_success_timestamp_seconds",
            _labels(**frame.own, task=task),
            ((t, t - (t % interval)) for t in frame.times),
        )


def _business(frame: _Frame) -> Iterator[str]:
    """The business counters of item 18: registrations and escrow holds, at the traffic's rates."""
    yield "# TYPE user_registrations counter"
    yield from frame.counter("user_registrations_total", _labels(**frame.own), REGISTRATIONS_PER_S)
    yield "# TYPE escrow_transactions counter"
    for kind, status, rate in (
        ("hold", "completed", ESCROW_HOLDS_PER_S),
        ("release", "completed", 0.0),
        ("hold", "failed", 0.0),
    ):
        yield from frame.counter("escrow_transactions_total", _labels(**frame.own, type=kind, status=status), rate)


def _disk(frame: _Frame, spec: Spec) -> Iterator[str]:
    """The database's disk as the live app reports it (when the sandbox has a mountpoint)."""
    if not spec.mountpoint:
        return
    size, avail = spec.disk
    disk = _labels(**frame.own, device="/dev/sandbox", fstype="ext4", mountpoint=spec.mountpoint)
    yield "# TYPE node_filesystem_avail_bytes gauge"
    yield from frame.series("node_filesystem_avail_bytes", disk, lambda t: avail, ".0f")
    yield "# TYPE node_filesystem_size_bytes gauge"
    yield from frame.series("node_filesystem_size_bytes", disk, lambda t: size, ".0f")


def _replica(job: str, end: float, spec: Spec) -> Iterator[str]:
    """The leak faults: a second replica whose memory or pool grew over the last hour."""
    lab = _labels(job=job, instance=REPLICA)
    times = [t for t in grid(end - 3600, end)]
    if "memory_leak" in spec.faults:
        yield "# TYPE process_resident_memory_bytes gauge"
        yield from _series(
            "process_resident_memory_bytes",
            lab,
            ((t, RSS_LIVE + 400 * 1024 * 1024 * (t - (end - 3600)) / 3600) for t in times),
            ".0f",
        )
    if "connection_leak" in spec.faults:
        yield "# TYPE db_connections_active gauge"
        yield from _series(
            "db_connections_active",
            lab,
            ((t, round(DB_CONNECTIONS + 18 * (t - (end - 3600)) / 3600)) for t in times),
            ".0f",
        )


def _alerts(job: str, start: float, end: float, spec: Spec) -> Iterator[str]:
    """ALERTS as the rule manager writes them: a healthy week has one alert that fired once and resolved."""
    grid_1m = [start + i * ALERT_STEP for i in range(int((end - start) / ALERT_STEP) + 1)]
    yield "# TYPE ALERTS gauge"

    def series(name: str, severity: str, times: list[float]) -> Iterator[str]:
        lab = _labels(alertname=name, alertstate="firing", job=job, severity=severity)
        yield from (f"ALERTS{lab} 1 {t:.0f}" for t in times)

    # HighResponseTime fired for 12 minutes three days ago (a slow dependency), then resolved.
    once = [t for t in grid_1m if end - 3 * DAY <= t < end - 3 * DAY + 720]
    flapping = "alert_flapping" in spec.faults
    if flapping:
        once = [t for t in grid_1m if (t - start) % 7200 < 180]
    yield from series("HighResponseTime", "warning", once)
    if "alert_always_firing" in spec.faults:
        yield from series("DatabaseConnectionIssues", "critical", grid_1m)


def parse_span(text: str) -> float:
    """'8d', '36h', '90m' -> seconds; a clear ValueError otherwise (1 hour to 30 days)."""
    units = {"m": 60.0, "h": 3600.0, "d": DAY, "w": 7 * DAY}
    raw = text.strip().lower()
    if len(raw) < 2 or raw[-1] not in units or not raw[:-1].replace(".", "", 1).isdigit():
        raise ValueError(f"--history {text!r}: expected a span like 8d, 36h or 90m")
    seconds = float(raw[:-1]) * units[raw[-1]]
    if not 3600.0 <= seconds <= 30 * DAY:
        raise ValueError(f"--history {text!r}: between 1h and 30d")
    return seconds


def _promtool(source: Path, tsdb: Path) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        raise RuntimeError("promtool is not installed (it comes with the prometheus package)")
    tsdb.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        [promtool, "tsdb", "create-blocks-from", "openmetrics", "--quiet", str(source), str(tsdb)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    source.unlink(missing_ok=True)
    if proc.returncode != 0:
        raise RuntimeError(f"promtool could not write the history blocks: {proc.stderr[-400:]}")


def write_blocks(tsdb: Path, job: str, work: Path, now: float | None = None, spec: Spec | None = None) -> None:
    """Build the history's blocks into `tsdb` (before Prometheus starts); a failure is raised.

    Without `spec`: yesterday's few hours. With it: `spec.seconds` of history ending `now`.
    """
    source = work / "history.om"
    if spec is None:
        source.write_text(openmetrics(job, now or time.time()))
    else:
        with source.open("w") as out:
            for line in history_openmetrics(job, now or time.time(), spec):
                out.write(line + "\n")
    _promtool(source, tsdb)
