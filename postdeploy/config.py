"""Environments: `environments/NAME.toml` resolved into one frozen, validated object.

Rules the loader enforces, each failure a `ConfigError` naming the file and the key:
- unknown keys are errors (a typo must not silently fall back to a default);
- secrets are never values in the file: a secret field `password` is given as
  `password_env = "VAR"` (an environment variable) or `password_file = "path"`
  (a mounted secret, as Docker and Kubernetes provide them);
- `${env:VAR}` in a string reads a non-secret environment variable, `${state:key}`
  reads a key of the JSON file named by the top-level `state_file` (the local
  sandbox writes its ports there).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from postdeploy.durations import parse_duration
from postdeploy.errors import ConfigError
from postdeploy.redaction import Secret, redact
from postdeploy.terms import PHASES

ENV_VAR = "POSTDEPLOY_ENV"
ENV_DIR_VAR = "POSTDEPLOY_ENV_DIR"


class Duration(float):
    """Seconds, written in the file as "30s", "15m" or a number."""


@dataclass(frozen=True)
class User:
    """The synthetic test user the suite logs in with (it exists and is verified)."""

    email: str
    password: Secret


@dataclass(frozen=True)
class ThrottleSignal:
    """How the service's rate limiter answers when it does not say 429 (or 503 + Retry-After).

    A response is throttled when its status is `status`, its body matches `body` (a regular
    expression; "" = any body) and, when `log` is set, the log ([logs]) has a line matching
    `log` written since the request was sent: a generic 500 is only read as throttling when
    the limiter's own log line is there to say so.
    """

    status: int
    body: str = ""
    log: str = ""

    def __post_init__(self) -> None:
        if not 100 <= self.status <= 599:
            raise ValueError(f"throttle status must be an HTTP status (100-599), got {self.status}")
        for name in ("body", "log"):
            try:
                re.compile(getattr(self, name))
            except re.error as exc:
                raise ValueError(
                    f"throttle {name} {getattr(self, name)!r} is not a valid regular expression: {exc}"
                ) from None


_RATE = re.compile(r"^\s*(\d+)\s*/\s*(s|sec|second|m|min|minute|h|hour)\s*$")
_RATE_SECONDS = {"s": 1.0, "sec": 1.0, "second": 1.0, "m": 60.0, "min": 60.0, "minute": 60.0}
_RATE_SECONDS.update({"h": 3600.0, "hour": 3600.0})


def parse_rate(text: str) -> tuple[int, float] | None:
    """Parse "60/min" into (60, 60.0); "" is no limit (None); anything else raises ValueError."""
    if not text.strip():
        return None
    m = _RATE.match(text)
    if not m or int(m[1]) < 1:
        raise ValueError(f'rate_limit {text!r} is not "N/s", "N/min" or "N/hour" with N >= 1')
    return int(m[1]), _RATE_SECONDS[m[2]]


@dataclass(frozen=True)
class Api:
    base_url: str
    headers: dict[str, str] = field(default_factory=dict)
    connect_timeout: Duration = Duration(3.0)
    read_timeout: Duration = Duration(10.0)
    # The longest Retry-After the suite honours on a 429 before its one retry.
    max_retry_wait: Duration = Duration(10.0)
    verify_tls: bool = True
    # A CA bundle (PEM) to validate the API's certificate with, instead of the system store.
    ca_bundle: str = ""
    user: User | None = None
    ping_path: str = "/api/v1/ping"
    version_path: str = "/api/v1/version"
    health_path: str = "/api/v1/health"
    readiness_path: str = "/api/v1/readiness"
    login_path: str = "/api/v1/auth/login"
    projects_path: str = "/api/v1/projects"
    business_path: str = "/api/v1/escrow/transactions"
    # The opt-in write variant of item 10: create with POST, delete by id.
    write_create_path: str = "/api/v1/projects"
    write_create_body: dict[str, Any] = field(
        # The reference service's ProjectCreate (title, description of 10+ characters, total_amount).
        default_factory=lambda: {
            "title": "postdeploy synthetic check",
            "description": "Created and deleted by the post-deployment suite",
            "total_amount": 1,
        }
    )
    write_delete_path: str = "/api/v1/projects/{id}"
    # The most API requests the suite sends, e.g. "60/min" ("" = no pacing). Under xdist
    # every worker paces at its share of it.
    rate_limit: str = ""
    # Signals of a rate limiter beyond 429 and 503 + Retry-After ([[api.throttle]] tables).
    throttle: list[ThrottleSignal] = field(default_factory=list)
    # Once a call to the API hung (read timeout) in this run, later calls wait this long at
    # most instead of read_timeout: a hung dependency costs one full timeout per run.
    hung_read_timeout: Duration = Duration(2.0)

    def __post_init__(self) -> None:
        parse_rate(self.rate_limit)


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
class Prometheus:
    url: str
    job: str
    timeout: Duration = Duration(10.0)
    headers: dict[str, str] = field(default_factory=dict)
    token: Secret | None = None


@dataclass(frozen=True)
class Database:
    dsn: str
    password: Secret | None = None
    statement_timeout: Duration = Duration(5.0)
    connect_timeout: Duration = Duration(5.0)
    application_name: str = "postdeploy"


@dataclass(frozen=True)
class Logs:
    kind: str  # file | docker | kubectl
    path: str = ""
    container: str = ""
    selector: str = ""
    namespace: str = ""
    context: str = ""
    timezone: str = "UTC"
    timeout: Duration = Duration(20.0)


@dataclass(frozen=True)
class Runtime:
    kind: str  # process | docker | kubectl
    pidfile: str = ""
    container: str = ""
    selector: str = ""
    namespace: str = ""
    context: str = ""
    timeout: Duration = Duration(20.0)


@dataclass(frozen=True)
class Sentry:
    org: str
    project: str
    token: Secret
    url: str = "https://sentry.io"
    project_id: str = ""
    environment: str = ""
    timeout: Duration = Duration(10.0)


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


# -- monitoring setup, integrations, alerts, load probe (issue 4) ----------------------------

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


@dataclass(frozen=True)
class Grafana:
    """Grafana's HTTP API: the dashboards that must exist, read with a service-account token."""

    url: str
    token: Secret
    dashboards: list[str] = field(default_factory=list)
    timeout: Duration = Duration(10.0)


@dataclass(frozen=True)
class Alertmanager:
    url: str
    token: Secret | None = None
    timeout: Duration = Duration(10.0)
    # Label values of `severity` that count as critical for morning.health.
    critical_severities: list[str] = field(default_factory=lambda: ["critical"])
    # How far back "overnight" reaches for the Sentry part of morning.health.
    overnight: Duration = Duration(12 * 3600.0)


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
class Fincra:
    """The payment provider: one read-only, documented endpoint with the secret key."""

    url: str
    api_key: Secret
    # GET, answers who the key belongs to; moves no money.
    path: str = "/profile/business/me"
    timeout: Duration = Duration(10.0)


@dataclass(frozen=True)
class Smtp:
    """The mail server: EHLO (and STARTTLS / AUTH when configured); never MAIL FROM."""

    # "name" (with `port`) or "name:port" (a port read from a state file has to be a string).
    host: str
    port: int = 587
    starttls: bool = True
    user: str = ""
    password: Secret | None = None
    # A CA bundle (PEM) to verify the server's STARTTLS certificate with.
    ca_bundle: str = ""
    timeout: Duration = Duration(10.0)

    def address(self) -> tuple[str, int]:
        """Return (host, port), the port taken from "name:port" when the host carries one."""
        name, sep, port = self.host.rpartition(":")
        if sep and port.isdigit() and "]" not in port:
            return name.strip("[]"), int(port)
        return self.host, self.port


@dataclass(frozen=True)
class Integrations:
    fincra: Fincra | None = None
    smtp: Smtp | None = None
    # name -> "URL" or "URL expect=STATUS" (default expect: any 2xx); GET only.
    http: dict[str, str] = field(default_factory=dict)
    http_timeout: Duration = Duration(10.0)
    ca_bundle: str = ""


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
class Backups:
    """Where the database backups land, and how fresh they must be (P1, items 25 and 30)."""

    dir: str
    # Files of the folder that count as backups; the format is read from their content.
    pattern: str = "*"
    # The zone of the YYYYMMDD_HHMMSS stamp in backup names (backup_database.sh uses local time).
    name_timezone: str = "UTC"
    max_age_pre_deploy: Duration = Duration(3600.0)
    max_age_daily: Duration = Duration(86400.0)
    # Folder of pg_restore/psql; default: the newest /usr/lib/postgresql/*/bin, else PATH.
    pg_bin: str = ""
    timeout: Duration = Duration(300.0)


@dataclass(frozen=True)
class Restore:
    """The weekly restore test's server: a role that may create databases, never the read-only one."""

    dsn: str
    password: Secret | None = None
    scratch_prefix: str = "postdeploy_restore"
    # Tables whose row counts must be non-zero and close to the source's (schema.table or table).
    key_tables: list[str] = field(default_factory=lambda: ["users", "projects", "transactions"])
    # Relative difference allowed between restored and live row counts (the backup is older).
    count_tolerance: float = 0.5
    # Leave EXTENSION entries out (a CREATEDB role may not create most extensions).
    skip_extensions: bool = True
    # Where the decompressed archive is written while pg_restore reads it; default: the system temp.
    work_dir: str = ""
    timeout: Duration = Duration(900.0)
    connect_timeout: Duration = Duration(5.0)


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
    # ending it on one at `margin` x the bound (beta): Wald's SPRT (postdeploy/watch.py).
    alpha: float = 0.01
    beta: float = 0.01
    margin: float = 2.0
    # How often the watched checks are evaluated (`--watch-interval` overrides).
    interval: Duration = Duration(10.0)
    # The requests a p95 is judged on (0: [thresholds] min_requests).
    min_latency_requests: int = 0
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
        bad = [p for p in self.traffic_endpoints if not p.startswith("/")]
        if bad:
            raise ValueError(f"traffic_endpoints are paths under the API's base URL (start with /): {bad[0]!r}")


@dataclass(frozen=True)
class Pushgateway:
    """Opt-in: one sample per check and the verdict pushed to a Prometheus Pushgateway."""

    url: str
    job: str = "postdeploy"
    timeout: Duration = Duration(5.0)
    # Basic auth in front of the Pushgateway (password_env / password_file).
    username: str = ""
    password: Secret | None = None


@dataclass(frozen=True)
class GrafanaAnnotation:
    """Opt-in: an annotation at deploy time with the verdict, through [grafana]'s URL and token."""

    # Pin it to one dashboard (else an organisation annotation, shown by tag).
    dashboard_uid: str = ""
    tags: list[str] = field(default_factory=lambda: ["postdeploy", "deploy"])


@dataclass(frozen=True)
class Slack:
    """Opt-in: the Slack incoming webhook (its URL is a secret) for notify.team and the final verdict."""

    webhook: Secret
    timeout: Duration = Duration(5.0)
    # Post the verdict at the end of every run (not only pre_deploy's notify.team).
    notify_verdict: bool = True
    # Where the reports folder is published (a CI artifacts URL); the message links
    # <report_url>/<env>/<run>/report.html instead of the local path.
    report_url: str = ""


@dataclass(frozen=True)
class Environment:
    """One deployment target, as loaded from `environments/NAME.toml`."""

    name: str
    path: str
    api: Api
    description: str = ""
    state_file: str = ""
    prometheus: Prometheus | None = None
    database: Database | None = None
    logs: Logs | None = None
    runtime: Runtime | None = None
    sentry: Sentry | None = None
    security: Security = field(default_factory=Security)
    expected: Expected = field(default_factory=Expected)
    thresholds: Thresholds = field(default_factory=Thresholds)
    windows: Windows = field(default_factory=Windows)
    wait: Wait = field(default_factory=Wait)
    backups: Backups | None = None
    restore: Restore | None = None
    changes: Changes = field(default_factory=Changes)
    staging: Staging = field(default_factory=Staging)
    db_checks: DbChecks = field(default_factory=DbChecks)
    log_checks: LogChecks = field(default_factory=LogChecks)
    sentry_review: SentryReview = field(default_factory=SentryReview)
    capacity: Capacity = field(default_factory=Capacity)
    baseline: Baseline = field(default_factory=Baseline)
    # Item 14: the endpoint labels (as in http_requests_total) that must serve; item 16: jobs.
    endpoints: list[str] = field(
        default_factory=lambda: ["/api/v1/health", "/api/v1/projects", "/api/v1/escrow/transactions"]
    )
    jobs: list[Job] = field(default_factory=list)
    # Production refuses --allow-writes unless its file opts in.
    writes_allowed: bool = True
    monitoring: Monitoring = field(default_factory=Monitoring)
    grafana: Grafana | None = None
    alertmanager: Alertmanager | None = None
    alerts: Alerts = field(default_factory=Alerts)
    alerts_review: AlertsReview = field(default_factory=AlertsReview)
    integrations: Integrations | None = None
    load_probe: LoadProbe | None = None
    budget: Budget = field(default_factory=Budget)
    charts: Charts = field(default_factory=Charts)
    pushgateway: Pushgateway | None = None
    grafana_annotation: GrafanaAnnotation | None = None
    slack: Slack | None = None
    watch: Watch = field(default_factory=Watch)

    def alert_source(self) -> str | None:
        """Where morning.health reads the firing alerts: "alertmanager", "prometheus" or None (neither set up)."""
        has_am = self.alertmanager is not None and bool(self.alertmanager.url)
        if self.alerts.source == "alertmanager":
            return "alertmanager" if has_am else None
        if self.alerts.source == "prometheus":
            return "prometheus" if self.prometheus is not None else None
        if has_am:
            return "alertmanager"
        return "prometheus" if self.prometheus is not None else None

    def alert_settings(self) -> Alertmanager:
        """The critical severities and overnight reach of morning.health, with the alert source's URL."""
        if self.alertmanager is not None:
            if self.alert_source() == "prometheus" and self.prometheus is not None:
                return dataclasses.replace(self.alertmanager, url=self.prometheus.url)
            return self.alertmanager
        url = self.prometheus.url if self.prometheus is not None else ""
        return Alertmanager(
            url=url, critical_severities=list(self.alerts.critical_severities), overnight=self.alerts.overnight
        )

    def targets(self) -> dict[str, str]:
        """Return the targets of this environment, without any secret, for report headers."""
        out = {"api": self.api.base_url}
        if self.prometheus:
            out["prometheus"] = f"{self.prometheus.url} (job {self.prometheus.job})"
        if self.database:
            out["database"] = self.database.dsn
        if self.logs:
            out["logs"] = f"{self.logs.kind}:{self.logs.path or self.logs.container or self.logs.selector}"
        if self.runtime:
            where = self.runtime.pidfile or self.runtime.container or self.runtime.selector
            out["runtime"] = f"{self.runtime.kind}:{where}"
        if self.sentry:
            out["sentry"] = f"{self.sentry.url} {self.sentry.org}/{self.sentry.project}"
        if self.backups:
            out["backups"] = self.backups.dir
        if self.restore:
            out["restore"] = self.restore.dsn
        if self.grafana:
            out["grafana"] = f"{self.grafana.url} dashboards {', '.join(self.grafana.dashboards) or '-'}"
        if self.alertmanager and self.alertmanager.url:
            out["alertmanager"] = self.alertmanager.url
        if self.integrations:
            names = (["fincra"] if self.integrations.fincra else []) + (["smtp"] if self.integrations.smtp else [])
            out["integrations"] = ", ".join(names + sorted(self.integrations.http)) or "-"
        # A URL may carry credentials (https://user:token@host) or a secret read into it.
        return {k: redact(v) for k, v in out.items()}


_SECRET_SUFFIXES = ("_env", "_file")
_REF = re.compile(r"\$\{(env|state):([A-Za-z0-9_.-]+)(?::-([^}]*))?\}")
_NAME = re.compile(r"^[A-Za-z0-9_-]+$")


def environments_dir(root: Path | None = None) -> Path:
    """Return the folder holding the environment files."""
    if os.environ.get(ENV_DIR_VAR):
        return Path(os.environ[ENV_DIR_VAR])
    return (root or Path.cwd()) / "environments"


def available(root: Path | None = None) -> list[str]:
    """Return the names of the environments that have a file."""
    folder = environments_dir(root)
    return sorted(p.stem for p in folder.glob("*.toml")) if folder.is_dir() else []


def load_environment(name: str, root: Path | None = None, *, source: str = "--env") -> Environment:
    """Load and validate `environments/<name>.toml`; every problem is one `ConfigError` line."""
    if not _NAME.match(name or ""):
        raise ConfigError(f"invalid environment name {name!r} from {source}")
    folder = environments_dir(root)
    path = folder / f"{name}.toml"
    if not path.is_file():
        known = ", ".join(available(root)) or "none"
        raise ConfigError(f"unknown environment {name!r} from {source}: no file {path} (known: {known})")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    loader = _Loader(path, raw.get("state_file"))
    return loader.build(Environment, {**raw, "name": name, "path": str(path)}, "")


class _Loader:
    """Builds the dataclasses above from TOML tables, resolving references and secrets."""

    def __init__(self, path: Path, state_file: object) -> None:
        self.path = path
        self._state_file = state_file
        self._state: dict[str, Any] | None = None

    def fail(self, where: str, message: str) -> ConfigError:
        return ConfigError(f"{self.path}: {where}: {message}" if where else f"{self.path}: {message}")

    def build(self, cls: type, table: object, where: str) -> Any:
        if not isinstance(table, dict):
            raise self.fail(where, f"must be a table, got {type(table).__name__}")
        hints = typing.get_type_hints(cls)
        fields = {f.name: f for f in dataclasses.fields(cls)}
        kwargs: dict[str, Any] = {}
        for key, value in table.items():
            here = f"{where}.{key}" if where else key
            base = next((key[: -len(s)] for s in _SECRET_SUFFIXES if key.endswith(s)), None)
            if base in fields and _is_secret(hints[base]):
                if base in kwargs:
                    raise self.fail(here, f"{base} given twice")
                kwargs[base] = self.secret(key, value, here)
            elif key in fields and _is_secret(hints[key]):
                raise self.fail(
                    here, f'secrets are not values in the file: use {key}_env = "VAR" or {key}_file = "path"'
                )
            elif key in fields:
                kwargs[key] = self.convert(hints[key], value, here)
            else:
                valid = ", ".join(sorted(fields))
                raise self.fail(here, f"unknown key (valid here: {valid})")
        for name, f in fields.items():
            if name not in kwargs and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                here = f"{where}.{name}" if where else name
                if _is_secret(hints[name]):
                    raise self.fail(here, f"missing secret: set {name}_env or {name}_file")
                raise self.fail(here, "missing required key")
        try:
            return cls(**kwargs)
        except ValueError as exc:
            raise self.fail(where or "(top level)", str(exc)) from None

    def convert(self, hint: Any, value: object, where: str) -> Any:
        if isinstance(value, str):
            value = self.interpolate(value, where)
        origin = typing.get_origin(hint)
        if origin in (types.UnionType, typing.Union):
            inner = [a for a in typing.get_args(hint) if a is not type(None)]
            return self.convert(inner[0], value, where)
        if isinstance(hint, type) and dataclasses.is_dataclass(hint):
            return self.build(hint, value, where)
        if hint is Duration:
            try:
                return Duration(parse_duration(value))  # type: ignore[arg-type]
            except ValueError as exc:
                raise self.fail(where, str(exc)) from None
        if origin is list and typing.get_args(hint) and dataclasses.is_dataclass(typing.get_args(hint)[0]):
            if not isinstance(value, list):
                raise self.fail(where, "must be a list of tables ([[...]] in TOML)")
            return [self.build(typing.get_args(hint)[0], v, f"{where}[{i}]") for i, v in enumerate(value)]
        if origin is list and typing.get_args(hint) == (float,):
            if not isinstance(value, list) or not all(
                isinstance(v, int | float) and not isinstance(v, bool) for v in value
            ):
                raise self.fail(where, "must be a list of numbers")
            return [float(v) for v in value]
        if origin is list:
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise self.fail(where, "must be a list of strings")
            return [self.interpolate(v, where) for v in value]
        if origin is dict:
            if not isinstance(value, dict):
                raise self.fail(where, f"must be a table, got {type(value).__name__}")
            return {k: self.interpolate(v, f"{where}.{k}") if isinstance(v, str) else v for k, v in value.items()}
        if hint is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if hint in (str, int, float, bool):
            assert isinstance(hint, type)
            if type(value) is not hint:
                raise self.fail(where, f"must be {hint.__name__}, got {type(value).__name__} {value!r}")
            if isinstance(value, str) and where.endswith(("url", "_url")) and value and "://" not in value:
                raise self.fail(where, f"URL without a scheme: {value!r} (write http:// or https://)")
            return value
        raise self.fail(where, f"unsupported type {hint}")  # pragma: no cover - a bug in the schema

    def secret(self, key: str, value: object, where: str) -> Secret:
        if not isinstance(value, str) or not value:
            raise self.fail(where, "must name an environment variable or a file")
        if key.endswith("_env"):
            got = os.environ.get(value)
            if not got:
                raise self.fail(where, f"missing secret: environment variable {value} is not set")
            return Secret(got, f"${value}")
        path = self.relative(self.interpolate_env(value, where))
        try:
            got = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise self.fail(where, f"missing secret: cannot read {path}: {exc.strerror}") from None
        if not got:
            raise self.fail(where, f"missing secret: {path} is empty")
        return Secret(got, str(path))

    def relative(self, value: str) -> Path:
        p = Path(value)
        return p if p.is_absolute() else (self.path.parent / p).resolve()

    def interpolate(self, text: str, where: str) -> str:
        def one(m: re.Match[str]) -> str:
            kind, key, default = m[1], m[2], m[3]
            if kind == "env":
                if os.environ.get(key):
                    return os.environ[key]
                if default is not None:
                    return default
                raise self.fail(where, f"environment variable {key} is not set")
            state = self.state(where)
            if state.get(key) is None and default is not None:
                # ${state:key:-default}: a key the sandbox leaves out (or null) in some set-ups.
                return default
            if key not in state:
                raise self.fail(where, f"state file has no key {key!r}")
            return str(state[key])

        return _REF.sub(one, text)

    def interpolate_env(self, text: str, where: str) -> str:
        if "${state:" in text:
            raise self.fail(where, "cannot use ${state:...} itself")
        return self.interpolate(text, where)

    def state(self, where: str) -> dict[str, Any]:
        if self._state is None:
            if not isinstance(self._state_file, str) or not self._state_file:
                raise self.fail(where, "uses ${state:...} but the file sets no state_file")
            path = self.relative(self.interpolate_env(self._state_file, "state_file"))
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except FileNotFoundError:
                raise self.fail(
                    where, f"state file {path} not found: is the sandbox up? (python -m sandbox up)"
                ) from None
            except (OSError, ValueError) as exc:
                raise self.fail(where, f"cannot read state file {path}: {exc}") from None
            if not isinstance(data, dict):
                raise self.fail(where, f"state file {path} is not a JSON object")
            self._state = data
        return self._state


def _is_secret(hint: Any) -> bool:
    return hint is Secret or (
        typing.get_origin(hint) in (types.UnionType, typing.Union) and Secret in typing.get_args(hint)
    )
