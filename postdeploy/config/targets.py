"""Configuration of what the suite asks: the API, Prometheus, the database, logs, vendors, exports.

Every secret field is a `Secret` (given in the file as `NAME_env` or `NAME_file`, never a value).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from postdeploy.config.units import Duration, parse_rate
from postdeploy.core.redaction import Secret


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
class Pushgateway:
    """Opt-in: one sample per check and the verdict pushed to a Prometheus Pushgateway."""

    url: str
    job: str = "postdeploy"
    timeout: Duration = Duration(5.0)
    # Basic auth in front of the Pushgateway (password_env / password_file).
    username: str = ""
    password: Secret | None = None


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
