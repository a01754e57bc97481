"""Configuration of how the checks judge: thresholds, windows, baselines and per-check settings."""

from __future__ import annotations

from dataclasses import dataclass, field

from postdeploy.config.units import Duration
from postdeploy.core.terms import PHASES


@dataclass(frozen=True)
class Security:
    """The security and contract smoke checks ("Beyond the guide" in the checklist)."""

    # The plain-HTTP URL that must redirect to HTTPS; default: the base URL with http://.
    http_url: str = ""
    cert_min_days: int = 14
    cert_warn_days: int = 30
    # Header -> required value ("" = any value). HSTS is required over HTTPS on top.
    headers: dict[str, str] = field(
        default_factory=lambda: {"X-Content-Type-Options": "nosniff", "X-Frame-Options": ""}
    )
    hsts: bool = True
    headers_path: str = "/api/v1/ping"
    cors_probe_origin: str = "https://postdeploy-cors-probe.invalid"
    not_found_path: str = "/api/v1/postdeploy-probe-not-found"
    openapi_path: str = "/openapi.json"
    # "METHOD /path" entries that a release removed on purpose.
    removed_endpoints: list[str] = field(default_factory=list)
    # "METHOD /path" entries that are free of side effects for malformed input.
    robust_endpoints: list[str] = field(default_factory=lambda: ["POST /api/v1/auth/login"])
    robust_budget: int = 25


@dataclass(frozen=True)
class Expected:
    version: str = ""
    commit: str = ""


@dataclass(frozen=True)
class Thresholds:
    error_rate: float = 0.01
    error_rate_rollback: float = 0.10
    latency_p95: Duration = Duration(0.5)
    min_requests: int = 50
    # When a metric has too few samples to judge, does that count as an issue?
    inconclusive_is_issue: bool = True
    # Key metrics (checklist "Key metrics"): reported as the action level of a check.
    key_error_rate: float = 0.05
    key_latency_p95: Duration = Duration(2.0)
    latency_p50: Duration = Duration(0.1)
    latency_p99: Duration = Duration(1.0)
    # Item 13: CPU as a share of `cpu_cores` cores; memory growth judged from the RSS slope.
    cpu: float = 0.80
    cpu_cores: float = 1.0
    memory: float = 0.90
    # The memory the process may use (bytes); 0 = unknown, memory % is then not judged.
    memory_limit_bytes: int = 0
    # Steady growth = a slope above this many MB per hour with a linear fit of r2 >= memory_growth_r2.
    memory_growth_mb_per_hour: float = 100.0
    memory_growth_r2: float = 0.8
    # Item 11: the request rate may fall at most this far below the baseline.
    traffic_drop: float = 0.50
    # Item 16: a job is late when its last run is older than interval x job_grace.
    job_grace: float = 1.5
    # Item 18 (Key metrics business ranges, per hour): [alert below, alert above].
    registrations_per_hour: list[float] = field(default_factory=lambda: [5.0, 500.0])
    transactions_per_hour: list[float] = field(default_factory=lambda: [10.0, 1000.0])


@dataclass(frozen=True)
class Windows:
    # The longest window a first15 metric looks at; it starts at the deploy when the
    # deploy is more recent (a run seconds after it has few samples: inconclusive, not pass).
    first15: Duration = Duration(900.0)
    # The windows of the later phases; each is cut to the time since the deploy minus
    # `warmup` (the first seconds of a release are start-up, not its steady state).
    first_hour: Duration = Duration(3600.0)
    first_24h: Duration = Duration(7200.0)
    daily: Duration = Duration(86400.0)
    # The "current request rate" of item 11.
    rate: Duration = Duration(300.0)
    # Item 18: business counters are judged per hour over this window.
    analytics: Duration = Duration(3600.0)
    warmup: Duration = Duration(60.0)
    # The shortest window worth judging at all (shorter: inconclusive) ...
    min_window: Duration = Duration(60.0)
    # ... unless the release reaches it within this long: the check then waits (bounded).
    max_wait: Duration = Duration(0.0)


@dataclass(frozen=True)
class Baseline:
    """Item 22 and 27: how far the release may drift from its baseline (each with an absolute floor)."""

    # Without a pre-deployment baseline in the record history: the same window this long ago (1d or 1w).
    offset: str = "1d"
    rate_tolerance: float = 0.20
    rate_floor: float = 0.5  # requests/s
    latency_tolerance: float = 0.30
    latency_floor: Duration = Duration(0.05)
    error_ratio: float = 2.0
    error_floor: float = 0.005  # an error rate below this never fails the comparison
    # Item 27: today vs yesterday.
    trend_tolerance: float = 0.30

    def __post_init__(self) -> None:
        if self.offset not in ("1d", "1w"):
            raise ValueError(f"offset must be 1d or 1w, got {self.offset!r}")


@dataclass(frozen=True)
class Job:
    """A background job of item 16: where its freshness comes from, and how often it runs."""

    name: str
    interval: Duration
    # PromQL returning the unix time of its last successful run, or SQL returning its newest row's time.
    metric: str = ""
    sql: str = ""


@dataclass(frozen=True)
class Wait:
    attempts: int = 30
    interval: Duration = Duration(5.0)


# The alert rules the reference service ships (TARGET.md), checked by monitoring.ready.
REFERENCE_ALERT_RULES = [
    "HighErrorRate",
    "HighResponseTime",
    "DatabaseConnectionIssues",
    "HighMemoryUsage",
    "HighCPUUsage",
    "DiskSpaceLow",
    "ApplicationDown",
    "HighRequestRate",
    "SlowDatabaseQueries",
    "HighClientErrorRate",
]


@dataclass(frozen=True)
class Monitoring:
    """What monitoring.ready expects to find set up (P5)."""

    expected_rules: list[str] = field(default_factory=lambda: list(REFERENCE_ALERT_RULES))


ALERT_SOURCES = ("auto", "alertmanager", "prometheus")


@dataclass(frozen=True)
class Alerts:
    """Where morning.health reads the firing alerts.

    "auto": Alertmanager when `[alertmanager]` has a url, else Prometheus' `/api/v1/alerts`;
    "alertmanager" or "prometheus" choose one. Without an `[alertmanager]` section the
    critical severities and the overnight reach below apply (with one, that section's).
    """

    source: str = "auto"
    critical_severities: list[str] = field(default_factory=lambda: ["critical"])
    overnight: Duration = Duration(12 * 3600.0)

    def __post_init__(self) -> None:
        if self.source not in ALERT_SOURCES:
            raise ValueError(f"source must be one of {', '.join(ALERT_SOURCES)}, got {self.source!r}")


@dataclass(frozen=True)
class AlertsReview:
    """alerts.tuning (item 29): the window read from the ALERTS series and the flapping bound."""

    window: Duration = Duration(7 * 86400.0)
    step: Duration = Duration(60.0)
    # An alert that started firing more often than this in the window is flagged as flapping.
    flapping_bound: int = 5


@dataclass(frozen=True)
class LoadProbe:
    """load.probe (P3): a bounded burst of read-only requests; hard caps in checks/loadprobe.py."""

    # "GET /path" entries; only GET and HEAD are accepted.
    endpoints: list[str] = field(default_factory=list)
    count: int = 100
    concurrency: int = 4
    max_duration: Duration = Duration(20.0)
    # Send the synthetic user's bearer token (for endpoints that need a login).
    auth: bool = False
    p50: Duration = Duration(0.1)
    p95: Duration = Duration(0.5)
    p99: Duration = Duration(1.0)
    max_errors: int = 0
    min_requests: int = 20


@dataclass(frozen=True)
class Changes:
    """The change record of P2: a git checkout and the release ref."""

    # Default: the repository of the current directory.
    repo: str = ""
    ref: str = "HEAD"
    # Diff stat base; default: the previous successful release's commit when the repo has it, else REF~1.
    base: str = ""
    timeout: Duration = Duration(10.0)


@dataclass(frozen=True)
class Staging:
    """Where the staging gate (P3) finds staging's records: reports/<env>/..."""

    env: str = "staging"
    # Default: the reports folder of this run.
    reports_dir: str = ""
    # Phases whose records count as a staging verification; empty: any phase but pre_deploy.
    phases: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class DbChecks:
    """Database checks: connections (item 12), slow and long queries (15), size and growth (23)."""

    # The guide's "normal range" of open connections, and the app's pool (the service: 10 + 20).
    normal_min: int = 5
    normal_max: int = 20
    pool_size: int = 10
    pool_overflow: int = 20
    pool_alarm: float = 0.8
    # Count only these sessions in pg_stat_activity ("" = every client session of the database).
    application_name: str = ""
    # ... and only those of this role (`usename`), for apps that set no application_name ("" = any).
    usename: str = ""
    # The normal range relative to the pool: [low, high] as fractions of pool_size, e.g.
    # [0, 1.5] = 0 to pool_size + half of it (an idle pool of 1 is normal). Empty: normal_min-normal_max.
    normal_relative: list[float] = field(default_factory=list)
    # The window of the connection trend (range query) and how far its slope is projected.
    window: Duration = Duration(3600.0)
    projection: Duration = Duration(3600.0)
    # The metric and pg_stat_activity "disagree badly" beyond max(abs, ratio x the larger).
    disagree_abs: int = 3
    disagree_ratio: float = 0.5
    slow_mean: Duration = Duration(1.0)
    long_query: Duration = Duration(300.0)
    # db.size: growth since the previous record of the same env, as a share of the old size.
    growth_max: float = 0.2

    def __post_init__(self) -> None:
        rel = self.normal_relative
        if rel and (len(rel) != 2 or not 0 <= rel[0] <= rel[1]):
            raise ValueError(f"normal_relative must be [low, high] with 0 <= low <= high, got {rel!r}")
        if not rel and self.normal_min > self.normal_max:
            raise ValueError(f"normal_min {self.normal_min} is above normal_max {self.normal_max}")

    def normal_range(self) -> tuple[float, float, str]:
        """(low, high, the setting that decides it) of the normal number of connections."""
        if self.normal_relative:
            lo, hi = self.normal_relative
            return (
                lo * self.pool_size,
                hi * self.pool_size,
                f"[db_checks] normal_relative = [{lo:g}, {hi:g}] x pool_size {self.pool_size}",
            )
        return float(self.normal_min), float(self.normal_max), "[db_checks] normal_min/normal_max"


@dataclass(frozen=True)
class LogChecks:
    """Log analysis: errors in the last hour (item 20) and the top error patterns of a day (26)."""

    window: Duration = Duration(3600.0)
    errors_max: int = 10
    patterns: list[str] = field(default_factory=lambda: ["connection refused", "timeout", " 500"])
    top: int = 20
    patterns_window: Duration = Duration(86400.0)
    patterns_max: int = 100


@dataclass(frozen=True)
class SentryReview:
    """Item 21: new error types since the deploy and their frequency."""

    # Events per hour above which a new error type fails the check.
    max_per_hour: float = 10.0
    # A type first seen minutes ago is judged as if seen for at least this long.
    min_age: Duration = Duration(3600.0)
    # Types seen in this period before the deploy are known ones.
    known_period: str = "14d"
    window: Duration = Duration(86400.0)


@dataclass(frozen=True)
class Capacity:
    """Item 28: database growth rate from the history file, disk and database fill projection."""

    horizon: Duration = Duration(30 * 86400.0)
    # node_exporter's mountpoint label of the database's disk ("" = no disk projection).
    mountpoint: str = ""
    # Extra label matchers for the node_filesystem_* series, e.g. 'job="node"'.
    disk_selector: str = ""
    disk_window: Duration = Duration(86400.0)
    disk_free_min: float = 0.10
    # "" = reports/<env>/history.jsonl beside the run folders.
    history_file: str = ""
    history_lookback: Duration = Duration(7 * 86400.0)
    # The shortest stretch of history a growth rate is computed from.
    min_span: Duration = Duration(86400.0)
    # A database size quota in bytes (managed databases); 0 = only the disk bounds it.
    db_max_bytes: int = 0


@dataclass(frozen=True)
class Budget:
    """API requests a phase may send (issue 6: gentle on the target); more is a finding."""

    pre_deploy: int = 300
    first15: int = 200
    first_hour: int = 400
    first_24h: int = 400
    daily: int = 300
    weekly: int = 300
    # A run selected by another marker expression (or none).
    other: int = 1000

    def of(self, phase: str) -> int:
        return int(getattr(self, phase, self.other)) if phase in PHASES else self.other


@dataclass(frozen=True)
class Charts:
    """The error-rate and p95 charts at the top of report.html (range queries on Prometheus)."""

    enabled: bool = True
    # The rate window of each plotted point; at least 4 scrape intervals of the target.
    rate_window: Duration = Duration(60.0)
    # Points per chart (the step is the span divided by this).
    points: int = 120


@dataclass(frozen=True)
class Watch:
    """`--watch`: the sequential decision's error probabilities, and what `--watch-traffic` may call."""

    # The chance of ending a watch on a rate that is at the bound (alpha), and of not
    # ending it on one at `margin` x the bound (beta): Wald's SPRT (postdeploy/outputs/watch.py).
    alpha: float = 0.01
    beta: float = 0.01
    margin: float = 2.0
    # How often the watched checks are evaluated (`--watch-interval` overrides).
    interval: Duration = Duration(10.0)
    # The requests a p95 is judged on (0: [thresholds] min_requests).
    min_latency_requests: int = 0
    # Failing evaluations in a row that confirm a watched check without a rule of its own
    # (memory, connections, endpoints, trends...): one scrape's spike is not a finding.
    confirm: int = 2
    # Side-effect-free GET paths `--watch-traffic` may call, e.g. ["/api/v1/ping"].
    traffic_endpoints: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        for name in ("alpha", "beta"):
            if not 0 < getattr(self, name) < 0.5:
                raise ValueError(f"{name} must be between 0 and 0.5 (an error probability), got {getattr(self, name)}")
        if self.margin <= 1:
            raise ValueError(f"margin must be above 1 (\"clearly above\" = margin x the bound), got {self.margin}")
        if self.interval <= 0:
            raise ValueError("interval must be positive")
        if self.confirm < 1:
            raise ValueError(f"confirm must be at least 1 (failing evaluations in a row), got {self.confirm}")
        bad = [p for p in self.traffic_endpoints if not p.startswith("/")]
        if bad:
            raise ValueError(f"traffic_endpoints are paths under the API's base URL (start with /): {bad[0]!r}")


@dataclass(frozen=True)
class GrafanaAnnotation:
    """Opt-in: an annotation at deploy time with the verdict, through [grafana]'s URL and token."""

    # Pin it to one dashboard (else an organisation annotation, shown by tag).
    dashboard_uid: str = ""
    tags: list[str] = field(default_factory=lambda: ["postdeploy", "deploy"])
