"""The supervisor: owns Postgres, the app and Prometheus as children, and runs the rest.

Started detached by ``python -m sandbox up``. Every child is spawned and stopped on the
main thread (the control server's threads hand their work over through a queue), because a
child's parent-death signal fires when the *thread* that forked it ends.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import logging
import os
import queue
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sandbox.app.faultfile import read_ack, write_fault_file
from sandbox.common import auth, state
from sandbox.control import faults as registry
from sandbox.control import report
from sandbox.control.api import ControlServer
from sandbox.control.cleanup import remove_state_files, write_runtime
from sandbox.control.deploy import AppProcess
from sandbox.control.faults import Components, Kind, OperationError
from sandbox.control.services import ServiceStack
from sandbox.infra import backups, certs
from sandbox.infra.postgres import PortInUse, PostgresCluster
from sandbox.infra.prometheus import PrometheusServer
from sandbox.standins.sentry import SentryServer, SentryStore
from sandbox.standins.slack import SlackServer
from sandbox.standins.traffic import TrafficGenerator

log = logging.getLogger("sandbox.supervisor")


class Supervisor:
    """Starts the sandbox, applies and heals faults, and shuts everything down."""

    def __init__(
        self,
        paths: state.Paths,
        alertmanager: bool = True,
        history: tuple[float, tuple[str, ...]] | None = None,
    ) -> None:
        self.paths = paths
        self.history = history
        self.runtime_dir: Path | None = None
        self.started_at = state.utc_iso()
        self.faults: list[str] = []
        self.touched: set[str] = set()  # faults whose apply ran since the last heal
        self.ready = False
        self.fault_generation = 0
        self.error_nonce = 0
        self.sentry_store = SentryStore()
        self.sentry = SentryServer(self.sentry_store, state.read_secret(paths, "sentry_token"))
        self.control = ControlServer(self)
        self.services = ServiceStack(paths, alertmanager=alertmanager)
        self.slack = SlackServer()
        self.traffic: TrafficGenerator | None = None
        self.pg: PostgresCluster | None = None
        self.prom: PrometheusServer | None = None
        self.certs: certs.Certificates | None = None
        self.backup_job: backups.BackupJob | None = None
        self.commands: queue.Queue[tuple[Callable[[], Any], concurrent.futures.Future[Any]]]
        self.commands = queue.Queue()
        self.stopping = threading.Event()
        # Children write straight into these; they stay open until shutdown() closes them.
        self._logs = [
            open(p, "ab")  # noqa: SIM115
            for p in (paths.postgres_log, paths.prometheus_log, paths.app_stdout_log)
        ]
        self._reported_exits: set[str] = set()
        https_port = state.pick_port()
        self.app = AppProcess(paths, https_port, state.pick_port({https_port}), self._logs[2])

    # -- plumbing ------------------------------------------------------------------------
    def submit(self, work: Callable[[], Any], timeout: float) -> Any:
        """Run work on the main thread and return its result (used by the control server)."""
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        self.commands.put((work, future))
        return future.result(timeout)

    def _bind_thread_server(self, start: Callable[[int], None], used: set[int]) -> int:
        for _ in range(10):
            port = state.pick_port(used)
            try:
                start(port)
            except OSError:
                continue
            used.add(port)
            return port
        raise RuntimeError("could not bind a port for a sandbox server")

    def _record_runtime(self) -> None:
        pids = {
            "app": self.app.pid,
            "postgres": self.pg.proc.pid if self.pg and self.pg.proc else None,
            "prometheus": self.prom.proc.pid if self.prom and self.prom.proc else None,
            "alertmanager": self.services.pid(),
        }
        write_runtime(self.paths, os.getpid(), self.runtime_dir, pids)

    # -- start ---------------------------------------------------------------------------
    def start(self) -> None:
        """Bring every component up and wait until the sandbox is ready."""
        started = time.monotonic()
        self.runtime_dir = Path(tempfile.mkdtemp(prefix="sbx-", dir="/tmp"))
        self._record_runtime()
        # A new CA and certificates at every start (milliseconds): the app and every probe need them.
        self.certs = certs.generate(self.paths)
        used: set[int] = {self.app.port, self.app.http_port}
        self._bind_thread_server(self.sentry.start, used)
        self._bind_thread_server(self.control.start, used)
        # Grafana, FinCra, SMTP and the fault exporter; then Alertmanager, before Prometheus.
        self.services.start_threads(lambda start: self._bind_thread_server(start, used))
        if self.services.with_alertmanager:
            runtime_dir = self.runtime_dir
            assert runtime_dir is not None
            self._start_with_ports(lambda port: self.services.start_alertmanager(runtime_dir, port), used)
        self._bind_thread_server(self.slack.start, used)
        # The webhook URL is a credential: a secret file, never a state.json key.
        state.write_secret(self.paths, "slack_webhook_url", self.slack.webhook_url)
        # Prometheus first: its first scrape comes ~5 s after start whatever the interval,
        # so it discovers the target while Postgres and the app come up. It scrapes the
        # app's plain HTTP port, as production's Prometheus does.
        prom = self.prom = PrometheusServer(self.runtime_dir, self._logs[1])
        prom.extra_config = self.services.prometheus_extra()
        if self.history is not None:
            seconds, faults = self.history
            prom.history = (seconds, faults, self.paths.root)
            log.info("backfilling %.0f h of history (faults: %s)", seconds / 3600, ", ".join(faults) or "none")
        self._start_with_ports(lambda port: prom.start(port, self.app.http_port), used)
        self._record_runtime()
        self.pg = PostgresCluster(self.runtime_dir, self._logs[0])
        self.pg.initdb(state.read_secret(self.paths, "postgres_password"))
        self._start_with_ports(self.pg.start, used)
        self._record_runtime()
        self.pg.provision(self.paths)
        backups.create_restore_role(self.pg, self.paths)
        backups.fresh_backup(self.pg, self.paths)
        self.backup_job = backups.BackupJob(self.pg, self.paths, lambda: bool(registry.of_kind(self.faults, Kind.BACKUP)))
        self.backup_job.start()
        log.info("postgres ready on port %s (%.1fs)", self.pg.port, time.monotonic() - started)
        self.traffic = TrafficGenerator(
            self.app.url,
            lambda: state.read_secret(self.paths, "traffic_user_password"),
            verify=self.app.tls_context(),
            otp_for=lambda email: auth.signup_otp(state.read_secret(self.paths, "jwt_secret"), email),
        )
        self.deploy_app()
        self.traffic.start()
        self._wait_scraped()
        self.ready = True
        self.write_state()
        log.info("sandbox ready in %.1fs", time.monotonic() - started)

    def _start_with_ports(self, start: Callable[[int], None], used: set[int]) -> None:
        for _ in range(5):
            port = state.pick_port(used)
            try:
                start(port)
            except PortInUse:
                log.warning("port %s was taken; retrying with another", port)
                continue
            used.add(port)
            return
        raise RuntimeError("could not find a free port after 5 attempts")

    # -- the app -------------------------------------------------------------------------
    def deploy_app(self) -> None:
        """(Re)start the app as the active faults say and wait until it answers ping."""
        assert self.pg is not None and self.pg.port is not None and self.traffic is not None
        release = state.PREVIOUS_RELEASE if "old_version" in self.faults else state.CURRENT_RELEASE
        # startup_error: a port nobody listens on, used only by the startup DB init.
        init_port = state.pick_port({self.pg.port}) if "startup_error" in self.faults else None
        self.publish_faults(wait=False)  # the new process reads the current faults at start
        try:
            self.app.deploy(release, self.pg.port, init_port)
        finally:
            self._reported_exits.discard("app")
            self._record_runtime()
        self.traffic.new_deploy()
        self.write_state()

    def _wait_scraped(self) -> None:
        assert self.prom is not None and self.traffic is not None
        # With the traffic paused on purpose, only the scrape of the new process counts.
        self.app.wait_scraped(self.prom, min_requests=0 if self.traffic.paused else 30)

    # -- faults --------------------------------------------------------------------------
    def publish_faults(self, wait: bool) -> None:
        """Write faults.json; with wait, return once the running app acknowledged it."""
        self.fault_generation += 1
        app_side = registry.of_kind(self.faults, Kind.APP)
        write_fault_file(self.paths.faults_file, app_side, self.fault_generation, self.error_nonce)
        if not wait or not self.app.running():
            return
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            ack = read_ack(self.paths.faults_ack)
            if ack.get("pid") == self.app.pid and ack.get("generation", 0) >= self.fault_generation:
                return
            time.sleep(0.02)
        raise OperationError(500, "the app did not acknowledge the fault within 5s")

    def _log_error(self) -> None:
        self.error_nonce += 1

    def components(self) -> Components:
        """The running parts a fault's apply and heal act on (once started)."""
        assert self.pg is not None and self.prom is not None and self.traffic is not None
        return Components(
            self.paths, self.app, self.pg, self.prom, self.traffic, self.sentry_store, self.sentry, self.slack,
            self.services, self._log_error,
        )

    def apply_fault(self, name: str) -> dict[str, Any]:
        """Switch one fault on (through the registry) and return once it is in effect."""
        parts = self.components()
        fault = registry.REGISTRY.get(name)
        if fault is None:
            raise OperationError(404, f"unknown fault {name!r}")
        if name in self.faults:
            return {"ok": True, "fault": name, "already_active": True, "faults": self.faults}
        registry.check_allowed(fault, self.faults, parts.pg.status())
        started = time.monotonic()
        self.touched.add(name)  # healed even if apply fails half-way
        if fault.apply is not None:
            fault.apply(parts)
        self.faults.append(name)
        try:
            if fault.kind is Kind.APP:
                self.publish_faults(wait=True)
            elif fault.kind is Kind.REDEPLOY:
                self.deploy_app()
                self._wait_scraped()
        finally:
            self.write_state()
        log.info("fault %s on (%.1fs)", name, time.monotonic() - started)
        return {"ok": True, "fault": name, "faults": self.faults, "seconds": round(time.monotonic() - started, 2)}

    def heal(self) -> dict[str, Any]:
        """Clear every fault, restore the database and redeploy the current release."""
        parts = self.components()
        pg = parts.pg
        started = time.monotonic()
        previous, self.faults = self.touched | set(self.faults), []
        self.touched = set()
        self.ready = False
        self.publish_faults(wait=False)
        registry.heal(previous, parts, Kind.COMPONENT, Kind.APP, Kind.PROCESS, Kind.REDEPLOY)
        # The database back whatever happened to it (db_down, db_frozen, or on its own) ...
        if pg.frozen:
            pg.thaw()
        if not pg.running():
            assert pg.port is not None
            pg.start(pg.port)
            self._record_runtime()
        registry.heal(previous, parts, Kind.DATABASE)
        pg.restore()  # ... and restored (migrations_missing, table_missing)
        registry.heal(previous, parts, Kind.BACKUP)
        self.deploy_app()
        pg.reset_statement_stats()
        self._wait_scraped()
        self.ready = True
        self.write_state()
        seconds = round(time.monotonic() - started, 2)
        log.info("healed in %.1fs", seconds)
        return {"ok": True, "seconds": seconds, "faults": []}

    # -- state and status ----------------------------------------------------------------
    def write_state(self) -> None:
        """Write state.json (only the documented keys; never a secret)."""
        state.write_json_atomic(self.paths.state_file, {**report.state_document(self), **self.services.state()})

    def status(self) -> dict[str, Any]:
        """Describe every component (safe to call from any thread)."""
        document = report.status_document(self)
        document["components"].update(self.services.status())
        return document

    def _watch_children(self) -> None:
        expected = {"app": "app_down" in self.faults, "postgres": "db_down" in self.faults}
        children = {
            "app": self.app.proc,
            "postgres": self.pg.proc if self.pg else None,
            "prometheus": self.prom.proc if self.prom else None,
        }
        for name, proc in children.items():
            if proc is None or proc.poll() is None or expected.get(name):
                continue
            if name not in self._reported_exits:
                self._reported_exits.add(name)
                log.error("%s exited unexpectedly with code %s", name, proc.returncode)

    # -- run and stop --------------------------------------------------------------------
    def serve(self) -> None:
        """Run queued work on the main thread until asked to stop."""
        while not self.stopping.is_set():
            try:
                work, future = self.commands.get(timeout=0.5)
            except queue.Empty:
                self._watch_children()
                continue
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(work())
            except BaseException as exc:  # handed to the waiting control thread
                future.set_exception(exc)

    def shutdown(self) -> None:
        """Stop everything in reverse order and remove the runtime directory."""
        self.ready = False
        if self.traffic is not None:
            self.traffic.stop()
        if self.backup_job is not None:
            self.backup_job.stop()
        self.app.stop()
        for component in (self.prom, self.pg):
            if component is not None:
                try:
                    component.stop()
                except Exception:
                    log.exception("stopping %s failed", type(component).__name__)
        self.services.stop()
        self.sentry.stop()
        self.slack.stop()
        self.control.stop()
        if self.runtime_dir is not None:
            shutil.rmtree(self.runtime_dir, ignore_errors=True)
        remove_state_files(self.paths)
        for handle in self._logs:
            handle.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox.control.supervisor")
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--ready-fd", type=int, default=None)
    parser.add_argument("--no-alertmanager", action="store_true", help="run Prometheus without Alertmanager")
    parser.add_argument("--history", type=float, default=None, help="seconds of history to backfill")
    parser.add_argument("--history-fault", action="append", default=[], help="a fault written into the history")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # httpx logs every request at INFO; the traffic would drown the log.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    history = (args.history, tuple(args.history_fault)) if args.history else None
    supervisor = Supervisor(
        state.Paths(args.state_dir.resolve()), alertmanager=not args.no_alertmanager, history=history
    )

    def report(message: str) -> None:
        if args.ready_fd is not None:
            os.write(args.ready_fd, (message + "\n").encode())
            os.close(args.ready_fd)

    def abort_startup(signum: int, frame: object) -> None:
        raise SystemExit(f"interrupted by signal {signum}")

    signal.signal(signal.SIGTERM, abort_startup)
    signal.signal(signal.SIGINT, abort_startup)
    log.info("supervisor %s starting (state dir %s)", os.getpid(), args.state_dir)
    try:
        supervisor.start()
    except BaseException as exc:
        log.exception("start-up failed")
        supervisor.shutdown()
        report(f"error: {exc}")
        return 1
    signal.signal(signal.SIGTERM, lambda signum, frame: supervisor.stopping.set())
    signal.signal(signal.SIGINT, lambda signum, frame: supervisor.stopping.set())
    report("ready")
    try:
        supervisor.serve()
    finally:
        log.info("shutting down")
        supervisor.shutdown()
        log.info("supervisor %s stopped", os.getpid())
    return 0


if __name__ == "__main__":
    sys.exit(main())
