"""The sandbox's switchable faults: their names, and how the app process learns of them.

``FAULTS`` is the one list of names (the suite's self-tests import it). Faults that change
the app's behaviour travel through ``faults.json`` in the state directory: the supervisor
rewrites it, the app re-reads it when its mtime changes and answers with ``faults.ack``,
so the supervisor can return only once the fault is in effect.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

FAULTS: dict[str, str] = {
    "db_down": "stop PostgreSQL; the app keeps running (health unhealthy, DB reads raise, jobs log errors)",
    "db_frozen": "SIGSTOP the postmaster and its children: requests touching the DB hang",
    "migrations_missing": "delete the alembic_version row (health: migrations warning)",
    "table_missing": "rename wallet_registry to wallet_registry_hidden (readiness false, jobs log errors)",
    "old_version": "redeploy the previous release 1.4.1 with its own commit",
    "app_down": "stop the app process and leave it stopped",
    "startup_error": "redeploy so that the startup DB init fails and logs an ERROR",
    "error_logged": "the app logs one ERROR line at once",
    "errors_5xx": "30% of API requests (not ping/health/readiness) answer a handled 500",
    "unhandled_errors": "30% of API requests (not ping/health/readiness) raise unhandled",
    "slow": "+600 ms on every request except /metrics",
    "login_broken": "POST /api/v1/auth/login answers 500 INTERNAL_ERROR",
    "projects_broken": "GET /api/v1/projects answers 500 DATABASE_ERROR",
    "transactions_broken": "GET /api/v1/escrow/transactions answers 500 DATABASE_ERROR",
    "sentry_new_issue": "Sentry gets a new unresolved error issue first seen now",
    # Beyond the original list: one per remaining "fault" of the checklist.
    "traffic_drop": "the synthetic traffic pauses (request rate drops to zero)",
    "connection_leak": "the app holds 22 extra DB connections (db_connections_active 27)",
    "memory_leak": "the app's resident memory grows by about 2 MB/s",
    "slow_query": "GET /api/v1/projects also runs a 1.2 s query (pg_stat_statements)",
    "job_stalled": "the app's background jobs (wallet balance sync, event ingestion) stop",
    "stacktrace_leak": "error bodies carry a stack trace with file paths (debug mode)",
    "input_500": "a malformed login body raises an unhandled exception (500)",
    "endpoint_removed": "GET /api/v1/escrow/transactions is gone (404, not in openapi.json)",
    "headers_missing": "responses lose X-Content-Type-Options, X-Frame-Options and Strict-Transport-Security",
    "rules_missing": "Prometheus is reloaded without the alert rules",
    # The transport-security ones (the API is served over HTTPS with the sandbox's own CA).
    "cert_expiring": "new HTTPS connections get a certificate (same CA and names) that expires in 5 days",
    "redirect_missing": "the plain HTTP port serves the API instead of redirecting to HTTPS",
    "cors_wildcard": "requests with an Origin get Access-Control-Allow-Origin: * with credentials",
    # Backups (sandbox/backups.py): the folder the pre-deploy, daily and weekly checks read.
    "backup_missing": "the backup folder is emptied",
    "backup_stale": "the only backup is 26 h old (name and mtime)",
    "backup_corrupt": "the newest backup is truncated to half its size",
    # The services around the app (sandbox/services.py).
    "dashboard_missing": "Grafana answers 404 Dashboard not found for the service's dashboard",
    "sentry_bad_token": "Sentry rejects the suite's token (401 Invalid token)",
    "payments_down": "FinCra answers 503 with an HTML error page",
    "smtp_down": "the SMTP server stops (connection refused)",
    "alert_firing": "a critical alert (SandboxCriticalAlert) fires in Prometheus and reaches Alertmanager",
    # The database, logs, Sentry and capacity checks (items 12, 15, 20, 21, 28).
    "long_query": "a session of the app runs SELECT pg_sleep(3600): an active query that never ends",
    "error_burst": "the app logs 120 ERROR lines at once ('Connection refused', 'timeout', 'answered 500')",
    "sentry_new_type": "Sentry gets a new error type (TimeoutError), first seen now, 180 events",
    "stuck_metric": "db_connections_active is frozen at 0 while the app's pool keeps its connections",
    "disk_filling": "node_filesystem_avail_bytes of the sandbox's data dir falls to 0 within two hours",
    "slack_down": "the Slack webhook stand-in answers every post with 500",
}

# Faults the app process implements itself, from faults.json.
APP_FAULTS = frozenset(
    {
        "error_logged",
        "errors_5xx",
        "unhandled_errors",
        "slow",
        "login_broken",
        "projects_broken",
        "transactions_broken",
        "connection_leak",
        "memory_leak",
        "slow_query",
        "job_stalled",
        "stacktrace_leak",
        "input_500",
        "endpoint_removed",
        "headers_missing",
        "cert_expiring",
        "redirect_missing",
        "cors_wildcard",
        "error_burst",
        "stuck_metric",
        "disk_filling",
    }
)
# The first-hour / first-24h metric faults (issue 3).
FAULTS.update(
    {
        "cpu_burn": "six app threads burn CPU (hashing that releases the GIL): process CPU well above 80% of a core",
        "endpoint_5xx": "GET /api/v1/ (endpoint /api/v1) answers 500; every other endpoint is healthy",
        "latency_regression": "+100 ms on every API request: p95 far beyond the baseline's +30%/50 ms, still under 500 ms",
        "no_registrations": "sign-ups (POST /api/v1/auth/signup) are refused with a 403: user_registrations_total stops",
    }
)
APP_FAULTS = APP_FAULTS | {"cpu_burn", "endpoint_5xx", "latency_regression", "no_registrations"}
# Rate limiters (issue 12): production's answers 500 and logs the 429; the other says 429.
FAULTS.update(
    {
        "throttled_500": "a rate limiter (5 requests / 10 s, /metrics counted, /health and /ping exempt) answers 500"
        " INTERNAL_ERROR, logs 'HTTPException: 429: Rate limit exceeded', resets the next request on the connection",
        "throttled_429": "the same rate limiter answers 429 with Retry-After: 1",
    }
)
APP_FAULTS = APP_FAULTS | {"throttled_500", "throttled_429"}

# Faults that take effect by starting a different app process.
REDEPLOY_FAULTS = frozenset({"old_version", "startup_error"})


def write_fault_file(path: Path, faults: list[str], generation: int, error_nonce: int) -> None:
    """Publish the app-side faults; the generation lets the writer wait for the ack."""
    payload = {
        "generation": generation,
        "faults": sorted(f for f in faults if f in APP_FAULTS),
        "error_log_nonce": error_nonce,
    }
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(payload))
    os.replace(tmp, path)


def read_ack(path: Path) -> dict[str, Any]:
    """Return the app's last acknowledgement, or {} when there is none."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


class FaultFlags:
    """The app's view of faults.json, refreshed by a watcher thread.

    Reading per request would cost a stat each time; a 50 ms poll keeps requests free of
    file I/O and still lets the supervisor see the ack within a fraction of a second.
    """

    def __init__(self, path: Path, ack_path: Path, on_error_nonce: Any = None, on_change: Any = None) -> None:
        self._path = path
        self._ack_path = ack_path
        self._on_error_nonce = on_error_nonce
        self._on_change = on_change
        self._mtime: float | None = None
        self._active: frozenset[str] = frozenset()
        self._logged_nonce: int | None = None
        self._stop = threading.Event()

    def active(self, name: str) -> bool:
        """Tell whether one app-side fault is switched on."""
        return name in self._active

    def refresh(self) -> None:
        """Re-read faults.json if it changed, act on it, and acknowledge it."""
        try:
            mtime = self._path.stat().st_mtime_ns
        except FileNotFoundError:
            mtime = None
        if mtime == self._mtime:
            return
        self._mtime = mtime
        data: dict[str, Any] = {}
        if mtime is not None:
            try:
                data = json.loads(self._path.read_text())
            except (OSError, ValueError):
                # A rename-written file is never partial; a bad one is simply ignored.
                self._mtime = None
                return
        self._active = frozenset(data.get("faults", []))
        nonce = data.get("error_log_nonce")
        if "error_logged" in self._active and nonce != self._logged_nonce:
            self._logged_nonce = nonce
            if self._on_error_nonce is not None:
                self._on_error_nonce()
        if self._on_change is not None:
            # Before the ack, so that "in effect" includes what the callback sets up.
            self._on_change(self._active)
        ack = {"generation": data.get("generation", 0), "pid": os.getpid()}
        tmp = self._ack_path.with_name(f".{self._ack_path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(ack))
        os.replace(tmp, self._ack_path)

    def start(self) -> None:
        """Read once now, then keep watching in a daemon thread."""
        self.refresh()
        threading.Thread(target=self._watch, name="fault-watcher", daemon=True).start()

    def stop(self) -> None:
        """Stop the watcher thread."""
        self._stop.set()

    def _watch(self) -> None:
        while not self._stop.wait(0.05):
            try:
                self.refresh()
            except OSError:
                time.sleep(0.5)
