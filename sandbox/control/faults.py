"""The sandbox's switchable faults: one registry of `Fault(name, description, kind, apply, heal)`.

``FAULTS`` maps each name to its one-line description (the CLI's list; the suite's self-tests
import it to check that every fault has a self-test). The supervisor dispatches through
``REGISTRY``: ``apply`` switches a fault on, then its ``kind`` says what follows (an app-side
fault is published in faults.json and acknowledged by the app, a redeploy fault starts a new
app process). ``heal`` undoes what heal's own steps do not: every heal publishes no app-side
fault, brings the database back (thawed, started, restored) and redeploys the app.

Adding a fault is one entry in ``_FAULTS`` (plus, for an app-side one, the app code that
reads it from ``FaultFlags``, see sandbox/app/faultfile.py).
"""

from __future__ import annotations

import enum
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sandbox.infra import backups, dbfaults

if TYPE_CHECKING:
    from sandbox.common.state import Paths
    from sandbox.control.deploy import AppProcess
    from sandbox.control.services import ServiceStack
    from sandbox.infra.postgres import PostgresCluster
    from sandbox.infra.prometheus import PrometheusServer
    from sandbox.standins.sentry import SentryServer, SentryStore
    from sandbox.standins.slack import SlackServer
    from sandbox.standins.traffic import TrafficGenerator


class OperationError(Exception):
    """A fault or heal that cannot be done; carries the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Kind(enum.Enum):
    """What a fault acts on, and so what the supervisor does around its `apply` and `heal`."""

    APP = "app"  # the app process itself, told through faults.json; `fault` returns once acknowledged
    REDEPLOY = "redeploy"  # a new app process is started with it
    PROCESS = "process"  # the app process is stopped
    DATABASE = "database"  # the PostgreSQL server; healed once it runs again, before it is restored
    BACKUP = "backup"  # the backup folder; healed after the database is restored
    COMPONENT = "component"  # a component around the app: Prometheus, Sentry, Grafana, FinCra, SMTP, Slack, traffic


@dataclass(frozen=True)
class Components:
    """What a fault's apply and heal act on: the supervisor's running parts."""

    paths: Paths
    app: AppProcess
    pg: PostgresCluster
    prom: PrometheusServer
    traffic: TrafficGenerator
    sentry_store: SentryStore
    sentry: SentryServer
    slack: SlackServer
    services: ServiceStack
    log_error: Callable[[], None]  # error_logged: the app logs one more ERROR line


Action = Callable[[Components], None]


@dataclass(frozen=True)
class Fault:
    name: str
    description: str
    kind: Kind
    apply: Action | None = None
    heal: Action | None = None
    # Refused (409) unless PostgreSQL is running and not frozen.
    needs_db: bool = False
    # Refused (409) while this other fault is active, with the reason said after the name.
    refused_with: tuple[str, str] | None = None


_REDEPLOYS = ("app_down", "redeploys the app, but app_down is active")


def _backup(name: str) -> Action:
    return lambda c: backups.apply_fault(name, c.pg, c.paths)


def _fresh_backup(c: Components) -> None:
    backups.fresh_backup(c.pg, c.paths)


def _clear_sentry(c: Components) -> None:
    c.sentry_store.clear_injected()


def _resume_traffic(c: Components) -> None:
    c.traffic.resume()


def _set_sentry_token(c: Components, token: str) -> None:
    assert c.sentry.server is not None
    c.sentry.server.RequestHandlerClass.token = token  # type: ignore[attr-defined]


def _set_slack_down(c: Components, down: bool) -> None:
    c.slack.down = down


_FAULTS = (
    Fault("db_down", "stop PostgreSQL; the app keeps running (health unhealthy, DB reads raise, jobs log errors)",
          Kind.DATABASE, apply=lambda c: c.pg.stop()),
    Fault("db_frozen", "SIGSTOP the postmaster and its children: requests touching the DB hang",
          Kind.DATABASE, apply=lambda c: c.pg.freeze(), needs_db=True),
    Fault("migrations_missing", "delete the alembic_version row (health: migrations warning)",
          Kind.DATABASE, apply=lambda c: c.pg.remove_migration_row(), needs_db=True),
    Fault("table_missing", "rename wallet_registry to wallet_registry_hidden (readiness false, jobs log errors)",
          Kind.DATABASE, apply=lambda c: c.pg.hide_table(), needs_db=True),
    Fault("old_version", "redeploy the previous release 1.4.1 with its own commit",
          Kind.REDEPLOY, refused_with=_REDEPLOYS),
    Fault("app_down", "stop the app process and leave it stopped", Kind.PROCESS, apply=lambda c: c.app.stop()),
    Fault("startup_error", "redeploy so that the startup DB init fails and logs an ERROR",
          Kind.REDEPLOY, refused_with=_REDEPLOYS),
    Fault("error_logged", "the app logs one ERROR line at once", Kind.APP, apply=lambda c: c.log_error()),
    Fault("errors_5xx", "about 30% of all requests (the sandbox's traffic) answer a handled 500; "
          "ping, health and readiness still answer 200", Kind.APP),
    # The same at lower rates, for the watch's time-to-detection benchmark (bench/watch.py).
    Fault("errors_5xx_3", "about 3% of all requests (the sandbox's traffic) answer a handled 500; "
          "ping, health and readiness still answer 200", Kind.APP),
    Fault("errors_5xx_10", "about 10% of all requests (the sandbox's traffic) answer a handled 500; "
          "ping, health and readiness still answer 200", Kind.APP),
    Fault("unhandled_errors", "30% of API requests (not ping/health/readiness) raise unhandled", Kind.APP),
    Fault("slow", "+600 ms on every request except /metrics", Kind.APP),
    Fault("login_broken", "POST /api/v1/auth/login answers 500 INTERNAL_ERROR", Kind.APP),
    Fault("projects_broken", "GET /api/v1/projects answers 500 DATABASE_ERROR", Kind.APP),
    Fault("transactions_broken", "GET /api/v1/escrow/transactions answers 500 DATABASE_ERROR", Kind.APP),
    Fault("sentry_new_issue", "Sentry gets a new unresolved error issue first seen now",
          Kind.COMPONENT, apply=lambda c: c.sentry_store.inject_new_issue(), heal=_clear_sentry),
    # Beyond the original list: one per remaining "fault" of the checklist.
    Fault("traffic_drop", "the synthetic traffic pauses (request rate drops to zero)",
          Kind.COMPONENT, apply=lambda c: c.traffic.pause(), heal=_resume_traffic),
    Fault("connection_leak", "the app holds 22 extra DB connections (db_connections_active 27)", Kind.APP),
    Fault("memory_leak", "the app's resident memory grows by about 2 MB/s", Kind.APP),
    Fault("slow_query", "GET /api/v1/projects also runs a 1.2 s query (pg_stat_statements)", Kind.APP),
    Fault("job_stalled", "the app's background jobs (wallet balance sync, event ingestion) stop", Kind.APP),
    Fault("stacktrace_leak", "error bodies carry a stack trace with file paths (debug mode)", Kind.APP),
    Fault("input_500", "a malformed login body raises an unhandled exception (500)", Kind.APP),
    Fault("endpoint_removed", "GET /api/v1/escrow/transactions is gone (404, not in openapi.json)", Kind.APP),
    Fault("headers_missing",
          "responses lose X-Content-Type-Options, X-Frame-Options and Strict-Transport-Security", Kind.APP),
    Fault("rules_missing", "Prometheus is reloaded without the alert rules", Kind.COMPONENT,
          apply=lambda c: c.prom.set_rules(enabled=False), heal=lambda c: c.prom.set_rules(enabled=True)),
    # The transport-security ones (the API is served over HTTPS with the sandbox's own CA).
    Fault("cert_expiring",
          "new HTTPS connections get a certificate (same CA and names) that expires in 5 days", Kind.APP),
    Fault("redirect_missing", "the plain HTTP port serves the API instead of redirecting to HTTPS", Kind.APP),
    Fault("cors_wildcard", "requests with an Origin get Access-Control-Allow-Origin: * with credentials", Kind.APP),
    # Backups (sandbox/infra/backups.py): the folder the pre-deploy, daily and weekly checks read.
    Fault("backup_missing", "the backup folder is emptied",
          Kind.BACKUP, apply=_backup("backup_missing"), heal=_fresh_backup),
    Fault("backup_stale", "the only backup is 26 h old (name and mtime)",
          Kind.BACKUP, apply=_backup("backup_stale"), heal=_fresh_backup),
    Fault("backup_corrupt", "the newest backup is truncated to half its size",
          Kind.BACKUP, apply=_backup("backup_corrupt"), heal=_fresh_backup),
    # The services around the app (sandbox/control/services.py).
    Fault("dashboard_missing", "Grafana answers 404 Dashboard not found for the service's dashboard", Kind.COMPONENT,
          apply=lambda c: c.services.hide_dashboard(True), heal=lambda c: c.services.hide_dashboard(False)),
    # The stand-in then expects another token: the suite's is rejected as Sentry does.
    Fault("sentry_bad_token", "Sentry rejects the suite's token (401 Invalid token)", Kind.COMPONENT,
          apply=lambda c: _set_sentry_token(c, secrets.token_urlsafe(24)),
          heal=lambda c: _set_sentry_token(c, c.sentry.token)),
    Fault("payments_down", "FinCra answers 503 with an HTML error page", Kind.COMPONENT,
          apply=lambda c: c.services.payments_down(True), heal=lambda c: c.services.payments_down(False)),
    Fault("smtp_down", "the SMTP server stops (connection refused)", Kind.COMPONENT,
          apply=lambda c: c.services.smtp_down(True), heal=lambda c: c.services.smtp_down(False)),
    Fault("alert_firing", "a critical alert (SandboxCriticalAlert) fires in Prometheus and reaches Alertmanager",
          Kind.COMPONENT, apply=lambda c: c.services.alert_firing(c.prom, True),
          heal=lambda c: c.services.alert_firing(c.prom, False),
          refused_with=("rules_missing", "needs Prometheus' rules, but rules_missing is active; heal first")),
    # The database, logs, Sentry and capacity checks (items 12, 15, 20, 21, 28).
    Fault("long_query", "a session of the app runs SELECT pg_sleep(3600): an active query that never ends",
          Kind.DATABASE, apply=lambda c: dbfaults.start_long_query(c.pg),
          heal=lambda c: dbfaults.stop_long_query(c.pg), needs_db=True),
    Fault("error_burst", "the app logs 120 ERROR lines at once ('Connection refused', 'timeout', 'answered 500')",
          Kind.APP),
    Fault("sentry_new_type", "Sentry gets a new error type (TimeoutError), first seen now, 180 events",
          Kind.COMPONENT, apply=lambda c: c.sentry_store.inject_new_type(), heal=_clear_sentry),
    Fault("stuck_metric", "db_connections_active is frozen at 0 while the app's pool keeps its connections", Kind.APP),
    Fault("disk_filling", "node_filesystem_avail_bytes of the sandbox's data dir falls to 0 within two hours",
          Kind.APP),
    Fault("slack_down", "the Slack webhook stand-in answers every post with 500", Kind.COMPONENT,
          apply=lambda c: _set_slack_down(c, True), heal=lambda c: _set_slack_down(c, False)),
    # The first-hour / first-24h metric faults (issue 3).
    Fault("cpu_burn",
          "six app threads burn CPU (hashing that releases the GIL): process CPU well above 80% of a core", Kind.APP),
    Fault("endpoint_5xx", "GET /api/v1/ (endpoint /api/v1) answers 500; every other endpoint is healthy", Kind.APP),
    Fault("latency_regression",
          "+100 ms on every API request: p95 far beyond the baseline's +30%/50 ms, still under 500 ms", Kind.APP),
    Fault("no_registrations",
          "sign-ups (POST /api/v1/auth/signup) are refused with a 403: user_registrations_total stops", Kind.APP),
    # Rate limiters (issue 12): production's answers 500 and logs the 429; the other says 429.
    Fault("throttled_500",
          "a rate limiter (5 requests / 10 s, /metrics counted, /health and /ping exempt) answers 500"
          " INTERNAL_ERROR, logs 'HTTPException: 429: Rate limit exceeded', resets the next request on the connection",
          Kind.APP),
    Fault("throttled_429", "the same rate limiter answers 429 with Retry-After: 1", Kind.APP),
)  # fmt: skip

REGISTRY: dict[str, Fault] = {fault.name: fault for fault in _FAULTS}
assert len(REGISTRY) == len(_FAULTS), "two faults share a name"
FAULTS: dict[str, str] = {fault.name: fault.description for fault in _FAULTS}


def of_kind(names: Iterable[str], *kinds: Kind) -> list[str]:
    """The names among `names` whose fault is of one of `kinds`, in the given order."""
    return [name for name in names if name in REGISTRY and REGISTRY[name].kind in kinds]


def check_allowed(fault: Fault, active: list[str], db_state: str) -> None:
    """Raise OperationError (409) when `fault` cannot be switched on now."""
    if fault.refused_with and fault.refused_with[0] in active:
        raise OperationError(409, f"{fault.name} {fault.refused_with[1]}")
    if fault.needs_db and db_state != "running":
        raise OperationError(409, f"{fault.name} needs a running, unfrozen database; heal first")


def heal(names: Iterable[str], parts: Components, *kinds: Kind) -> None:
    """Run the heal of every fault in `names` of one of `kinds`, in registry order, each heal once."""
    wanted = set(names)
    done: set[int] = set()
    for fault in _FAULTS:
        if fault.name not in wanted or fault.kind not in kinds or fault.heal is None:
            continue
        # Faults sharing one heal (a fresh backup, clearing Sentry's injected issues) run it once.
        key = id(fault.heal)
        if key not in done:
            done.add(key)
            fault.heal(parts)
