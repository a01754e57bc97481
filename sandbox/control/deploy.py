"""The app as the supervisor's child process: deploy, stop, and wait until it counts as live.

A deploy is a new process (new pid, start time, metrics and startup log lines), started
with the release and startup options the active faults call for. The supervisor's probes
speak HTTPS and trust only the sandbox's CA, as a client of the real service would.
"""

from __future__ import annotations

import re
import ssl
import subprocess
import sys
import time
from typing import IO

import httpx

from sandbox.common import state
from sandbox.infra.postgres import pdeathsig_prefix
from sandbox.infra.prometheus import PrometheusServer

MIN_REQUESTS = 30


class AppProcess:
    """One app process at a time on two fixed ports: HTTPS (the API) and plain HTTP."""

    def __init__(self, paths: state.Paths, port: int, http_port: int, stdout_log: IO[bytes]) -> None:
        self.paths = paths
        self.port = port
        self.http_port = http_port
        self.stdout_log = stdout_log
        self.proc: subprocess.Popen[bytes] | None = None
        self.version = state.CURRENT_RELEASE.version
        # What the process exports as process_start_time_seconds (for matching Prometheus).
        self.start_time = 0.0
        # Wall-clock time of the spawn: the deploy time written to state.json.
        self.spawn_time = 0.0
        self.last_stop = 0.0
        self._tls_context: ssl.SSLContext | None = None

    @property
    def url(self) -> str:
        """The API's HTTPS URL."""
        return f"https://127.0.0.1:{self.port}"

    @property
    def http_url(self) -> str:
        """The plain HTTP port: redirects to HTTPS, serves /metrics."""
        return f"http://127.0.0.1:{self.http_port}"

    def tls_context(self) -> ssl.SSLContext:
        """A client context trusting the sandbox's CA only (made once: the CA lasts the run)."""
        if self._tls_context is None:
            self._tls_context = ssl.create_default_context(cafile=str(self.paths.ca_file))
        return self._tls_context

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        """SIGTERM (graceful shutdown) and wait; SIGKILL after 5 s."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self.last_stop = time.time()

    def deploy(self, release: state.Release, db_port: int, init_db_port: int | None = None) -> None:
        """Replace the running process by a new one and wait until it answers ping."""
        self.stop()
        # Log lines carry whole seconds: start in a later second than the old process's
        # last line, so "since the deploy" never includes the previous process's lines.
        while int(time.time()) <= int(self.last_stop):
            time.sleep(0.02)
        command = [
            *pdeathsig_prefix("TERM"),
            sys.executable, "-m", "sandbox.app",
            "--port", str(self.port),
            "--http-port", str(self.http_port),
            "--state-dir", str(self.paths.root),
            "--db-port", str(db_port),
            "--version", release.version,
            "--commit-sha", release.commit_sha,
            "--build-time", release.build_time,
            "--build-number", release.build_number,
            "--build-branch", release.build_branch,
            "--environment", state.ENVIRONMENT,
        ]  # fmt: skip
        if init_db_port is not None:
            command += ["--init-db-port", str(init_db_port)]
        # process_start_time_seconds derives from the kernel's whole-second boot time and
        # can be off by a second or two, so the deploy time comes from the wall clock.
        self.spawn_time = time.time()
        self.proc = subprocess.Popen(
            command, cwd=state.REPO_ROOT, stdout=self.stdout_log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )  # fmt: skip
        self.version = release.version
        self.start_time = self._wait_answers()

    def _wait_answers(self, timeout: float = 15.0) -> float:
        """Wait for ping over HTTPS, then read the process start time from the plain port's /metrics."""
        assert self.proc is not None
        verify = self.tls_context()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the app exited with code {self.proc.returncode} (see {self.paths.app_stdout_log})")
            try:
                if httpx.get(f"{self.url}/api/v1/ping", timeout=1, verify=verify).status_code == 200:
                    # Where Prometheus scrapes: both listeners are up once this answers too.
                    metrics = httpx.get(f"{self.http_url}/metrics", timeout=2).text
                    match = re.search(r"^process_start_time_seconds (\S+)$", metrics, re.M)
                    if match:
                        return float(match.group(1))
            except httpx.HTTPError:
                pass
            time.sleep(0.03)
        raise RuntimeError(f"the app did not answer /api/v1/ping within {timeout:.0f}s")

    def wait_scraped(self, prom: PrometheusServer, min_requests: int = MIN_REQUESTS, timeout: float = 30.0) -> None:
        """Wait until Prometheus has scraped this process and counted 30 of its requests.

        Checks compute rates over the window since the deploy and need a minimal sample.
        """
        job = state.PROMETHEUS_JOB
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running():
                raise RuntimeError("the app exited while waiting for Prometheus")
            started = prom.scalar(f'process_start_time_seconds{{job="{job}"}}')
            if started is not None and abs(started - self.start_time) < 0.01:
                total = prom.scalar(f'sum(http_requests_total{{job="{job}"}})')
                if total is not None and total >= min_requests:
                    return
            time.sleep(0.2)
        raise RuntimeError(
            f"Prometheus did not see {min_requests} requests from the new app process within {timeout:.0f}s"
        )
