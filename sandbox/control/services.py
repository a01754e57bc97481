"""The third-party services around the app: Grafana, FinCra, SMTP, Alertmanager, and their faults.

The supervisor owns one `ServiceStack`: three stand-ins and the fault exporter run as
threads of the supervisor, the SMTP server as an aiosmtpd thread, Alertmanager as a child
process. Their URLs go into state.json; their secrets are files in secrets/ like the others.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import httpx

from sandbox.common import state
from sandbox.common.localserver import LocalServer
from sandbox.infra.alertmanager import AlertmanagerServer
from sandbox.infra.prometheus import PrometheusServer
from sandbox.standins.fincra import FincraServer
from sandbox.standins.grafana import DASHBOARD_UID, GrafanaServer, GrafanaStore
from sandbox.standins.mailserver import SMTP_USER, MailServer

SERVICE_SECRETS = ("grafana_token", "fincra_api_key", "smtp_password")
SANDBOX_RULES_FILE = state.PACKAGE_DIR / "rules" / "sandbox_alerts.yml"
FIRING_ALERT = "SandboxCriticalAlert"
EXPORTER_JOB = "sandbox-faults"


def ensure_service_secrets(paths: state.Paths) -> None:
    """Create the services' secret files (0600) when missing, keeping existing ones."""
    paths.secrets_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    for name in SERVICE_SECRETS:
        state.ensure_secret_file(paths.secrets_dir / name)


class FaultExporter(LocalServer):
    """Serves `sandbox_fault_alert_firing` for Prometheus to scrape (the alert_firing fault)."""

    name = "fault-exporter"

    def __init__(self) -> None:
        super().__init__()
        self.firing = False

    def start(self, port: int) -> None:
        exporter = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                body = (
                    "# HELP sandbox_fault_alert_firing 1 while the sandbox fault alert_firing is on.\n"
                    "# TYPE sandbox_fault_alert_firing gauge\n"
                    f"sandbox_fault_alert_firing {int(exporter.firing)}\n"
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.serve(port, Handler)


class ServiceStack:
    """Starts, breaks, heals and stops the services around the app."""

    def __init__(self, paths: state.Paths, alertmanager: bool = True) -> None:
        self.paths = paths
        # `sandbox up --no-alertmanager`: Prometheus alone evaluates the rules, as in a set-up
        # without Alertmanager; the suite then reads the alerts from Prometheus.
        self.with_alertmanager = alertmanager
        ensure_service_secrets(paths)
        self.grafana_store = GrafanaStore()
        self.grafana = GrafanaServer(self.grafana_store, state.read_secret(paths, "grafana_token"))
        self.fincra = FincraServer(state.read_secret(paths, "fincra_api_key"))
        self.mail = MailServer(paths.server_cert, paths.server_key, state.read_secret(paths, "smtp_password"))
        self.exporter = FaultExporter()
        self.am: AlertmanagerServer | None = None
        self._log = open(paths.root / "alertmanager.log", "ab")  # noqa: SIM115  (closed in stop())

    # -- start -----------------------------------------------------------------------------
    def start_threads(self, bind: Callable[[Callable[[int], None]], int]) -> None:
        """Bind the in-process servers, each on a free port (`bind` retries on a clash)."""
        for start in (self.grafana.start, self.fincra.start, self.exporter.start, self.mail.start):
            bind(start)

    def start_alertmanager(self, runtime_dir: Path, port: int) -> None:
        self.am = AlertmanagerServer(runtime_dir, self._log)
        self.am.start(port)

    def prometheus_extra(self) -> str:
        """The config text Prometheus needs: the fault exporter's scrape job, the alerting target (if any)."""
        assert self.exporter.server is not None
        port = self.exporter.server.server_address[1]
        text = f'  - job_name: {EXPORTER_JOB}\n    static_configs:\n      - targets: ["127.0.0.1:{port}"]\n'
        if self.am is not None:
            text += (
                f'alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ["127.0.0.1:{self.am.port}"]\n'
            )
        return text

    # -- faults (each one's apply and heal, called through the registry in faults.py) --------
    def hide_dashboard(self, hidden: bool) -> None:
        """dashboard_missing: Grafana answers 404 for the service's dashboard."""
        self.grafana_store.hidden = hidden

    def payments_down(self, down: bool) -> None:
        """payments_down: FinCra answers 503 with an HTML page."""
        self.fincra.provider.down = down

    def smtp_down(self, down: bool) -> None:
        """smtp_down: the SMTP server stops; heal starts it again on the same port."""
        if down:
            self.mail.stop()
        elif not self.mail.running():
            assert self.mail.port is not None
            self.mail.start(self.mail.port)

    def alert_firing(self, prom: PrometheusServer, firing: bool) -> None:
        """alert_firing: the fault exporter reports 1 and SandboxCriticalAlert fires; return once it shows."""
        if firing:
            # The rule is loaded only while the fault is on: the healthy sandbox has exactly
            # the service's rules.
            self.exporter.firing = True
            prom.extra_rule_files = [SANDBOX_RULES_FILE]
            prom.set_rules(enabled=True)
            self._wait_alert(prom, present=True, timeout=30)
            return
        self.exporter.firing = False
        prom.extra_rule_files = []
        prom.set_rules(enabled=True)
        if self.am is not None:
            # Prometheus sends no resolution for a rule it dropped: resolve it as Prometheus would.
            self.am.resolve(FIRING_ALERT)
        self._wait_alert(prom, present=False, timeout=15)

    def _firing_names(self, prom: PrometheusServer) -> set[str]:
        """The alerts firing where the suite reads them: Alertmanager, or Prometheus without one."""
        if self.am is not None:
            return {a.get("labels", {}).get("alertname") for a in self.am.alerts()}
        try:
            alerts = httpx.get(f"{prom.url}/api/v1/alerts", timeout=2).json()["data"]["alerts"]
        except (httpx.HTTPError, ValueError, KeyError, TypeError):
            return set()
        return {a.get("labels", {}).get("alertname") for a in alerts if a.get("state") == "firing"}

    def _wait_alert(self, prom: PrometheusServer, present: bool, timeout: float) -> None:
        where = "Alertmanager" if self.am is not None else "Prometheus"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if (FIRING_ALERT in self._firing_names(prom)) == present:
                return
            time.sleep(0.2)
        raise RuntimeError(f"{where} did not {'fire' if present else 'resolve'} {FIRING_ALERT} in {timeout:.0f}s")

    # -- state -----------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """The keys this stack adds to state.json (never a secret)."""
        return {
            "grafana_url": self.grafana.url if self.grafana.server else None,
            "grafana_dashboard": DASHBOARD_UID,
            "alertmanager_url": self.am.url if self.am else None,
            # Where the suite reads the firing alerts (environments/local.toml: [alerts] source).
            "alerts_source": "alertmanager" if self.with_alertmanager else "prometheus",
            "fincra_url": self.fincra.url if self.fincra.server else None,
            "smtp_host": "127.0.0.1",
            "smtp_port": self.mail.port,
            "smtp_user": SMTP_USER,
        }

    def status(self) -> dict[str, dict[str, Any]]:
        """The components this stack adds to the control API's /status."""
        am_up = self.am is not None and self.am.running()
        return {
            "grafana": {
                "state": "dashboard missing (fault)" if self.grafana_store.hidden else "running",
                "url": self.grafana.url if self.grafana.server else None,
            },
            "alertmanager": {
                "state": "running" if am_up else ("stopped" if self.with_alertmanager else "off (--no-alertmanager)"),
                "pid": self.pid(),
                "url": self.am.url if self.am else None,
                "alert_firing": self.exporter.firing,
            },
            "fincra": {
                "state": "down (fault payments_down)" if self.fincra.provider.down else "running",
                "url": self.fincra.url if self.fincra.server else None,
            },
            "smtp": {"state": "running" if self.mail.running() else "stopped", "port": self.mail.port},
        }

    def pid(self) -> int | None:
        return self.am.proc.pid if self.am and self.am.proc else None

    def stop(self) -> None:
        """Stop everything (Alertmanager after Prometheus: the caller orders it)."""
        for stop in (self.mail.stop, self.grafana.stop, self.fincra.stop, self.exporter.stop):
            try:
                stop()
            except Exception:
                pass
        if self.am is not None:
            self.am.stop()
        self._log.close()
