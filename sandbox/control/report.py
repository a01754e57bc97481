"""What the supervisor tells the world: state.json's content and the control API's /status."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Protocol

from sandbox.common import state
from sandbox.common.localserver import LocalServer
from sandbox.control.deploy import AppProcess
from sandbox.infra import backups
from sandbox.infra.certs import Certificates
from sandbox.infra.postgres import PostgresCluster
from sandbox.infra.prometheus import PrometheusServer
from sandbox.standins.sentry import SentryServer
from sandbox.standins.slack import SlackServer
from sandbox.standins.traffic import TrafficGenerator


class Reported(Protocol):
    """What these documents read of the supervisor (read-only)."""

    @property
    def paths(self) -> state.Paths: ...
    @property
    def app(self) -> AppProcess: ...
    @property
    def pg(self) -> PostgresCluster | None: ...
    @property
    def prom(self) -> PrometheusServer | None: ...
    @property
    def sentry(self) -> SentryServer: ...
    @property
    def slack(self) -> SlackServer: ...
    @property
    def traffic(self) -> TrafficGenerator | None: ...
    @property
    def certs(self) -> Certificates | None: ...
    @property
    def control(self) -> LocalServer: ...
    @property
    def runtime_dir(self) -> Path | None: ...
    @property
    def faults(self) -> list[str]: ...
    @property
    def ready(self) -> bool: ...
    @property
    def started_at(self) -> str: ...
    @property
    def history(self) -> tuple[float, tuple[str, ...]] | None: ...


def state_document(sup: Reported) -> dict[str, Any]:
    """state.json: only the documented keys, never a secret."""
    assert sup.pg is not None and sup.prom is not None
    return {
        "api_url": sup.app.url,
        "http_url": sup.app.http_url,
        "ca_file": str(sup.paths.ca_file),
        "prometheus_url": sup.prom.url,
        "prometheus_job": state.PROMETHEUS_JOB,
        "db_host": state.DB_HOST,
        "db_port": sup.pg.port,
        "db_name": state.DB_NAME,
        "db_user": state.DB_RO_USER,
        "sentry_url": sup.sentry.url,
        "sentry_org": state.SENTRY_ORG,
        "sentry_project": state.SENTRY_PROJECT,
        "sentry_project_id": state.SENTRY_PROJECT_ID,
        # The Slack stand-in's base URL; the webhook URL itself is the secret file slack_webhook_url.
        "slack_url": sup.slack.url,
        "log_file": str(sup.paths.app_log),
        "disk_mountpoint": str(sup.paths.root),
        "app_pidfile": str(sup.paths.app_pidfile),
        "test_user_email": state.TEST_USER_EMAIL,
        "expected_version": state.CURRENT_RELEASE.version,
        "expected_commit": state.CURRENT_RELEASE.commit_sha,
        "control_url": sup.control.url,
        "supervisor_pid": os.getpid(),
        "data_dir": str(sup.runtime_dir),
        "deployed_at": state.utc_iso(sup.app.spawn_time),
        "faults": list(sup.faults),
        "started_at": sup.started_at,
        # `up --history`: the backfilled span (seconds; 0 = only the synthetic yesterday) and
        # the history faults written into it.
        "history_seconds": round(sup.history[0]) if sup.history else 0,
        "history_faults": list(sup.history[1]) if sup.history else [],
        **backups.state_keys(sup.paths, sup.pg),
    }


def _app_state(sup: Reported) -> str:
    app = sup.app.proc
    if app is None:
        return "not started"
    if app.poll() is None:
        return "running"
    if "app_down" in sup.faults:
        return "stopped (fault app_down)"
    return f"exited with code {app.returncode}"


def _tls(sup: Reported) -> dict[str, Any]:
    certs = sup.certs
    if certs is None:
        return {"ca_file": None, "cert_expires": None}
    # The certificate new connections get: the cert_expiring fault swaps it in the app.
    expires = certs.expiring_not_after if "cert_expiring" in sup.faults else certs.server_not_after
    return {"ca_file": str(certs.ca_file), "cert_expires": expires.isoformat()}


def status_document(sup: Reported) -> dict[str, Any]:
    """Describe every component (safe to call from any thread)."""
    app = sup.app.proc
    app_state = _app_state(sup)
    traffic = sup.traffic
    return {
        "ready": sup.ready and not sup.faults and app_state == "running",
        "faults": list(sup.faults),
        "deployed_at": state.utc_iso(sup.app.spawn_time) if sup.app.spawn_time else None,
        "components": {
            "app": {
                "state": app_state,
                "pid": app.pid if app else None,
                "url": sup.app.url,
                "http_url": sup.app.http_url,
                "version": sup.app.version,
                "tls": _tls(sup),
            },
            "postgres": {
                "state": sup.pg.status() if sup.pg else "not started",
                "pid": sup.pg.proc.pid if sup.pg and sup.pg.proc else None,
                "port": sup.pg.port if sup.pg else None,
            },
            "prometheus": {
                "state": "running" if sup.prom and sup.prom.running() else "stopped",
                "pid": sup.prom.proc.pid if sup.prom and sup.prom.proc else None,
                "url": sup.prom.url if sup.prom else None,
            },
            "sentry": {"state": "running", "url": sup.sentry.url},
            "slack": {"state": "down (fault slack_down)" if sup.slack.down else "running", "url": sup.slack.url},
            "traffic": {
                "state": "running" if traffic else "not started",
                "sent": traffic.sent if traffic else 0,
                "failed": traffic.failed if traffic else 0,
            },
        },
        "state_file": str(sup.paths.state_file),
    }
