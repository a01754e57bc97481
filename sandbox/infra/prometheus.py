"""A real Prometheus server scraping the sandbox app, and a small query helper."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path
from typing import IO, Any

import httpx

from sandbox.common import state
from sandbox.infra import daemon, history

CONFIG_TEMPLATE = """\
# Written by the sandbox supervisor; regenerated on every start.
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
{rule_files}scrape_configs:
  - job_name: {job}
    metrics_path: /metrics
    static_configs:
      - targets: ["127.0.0.1:{app_port}"]
"""


class PrometheusServer:
    """One Prometheus process with its own TSDB under the runtime directory."""

    def __init__(self, runtime_dir: Path, log_file: IO[bytes]) -> None:
        self.dir = runtime_dir / "prometheus"
        self.log_file = log_file
        self.port: int | None = None
        self.app_port: int | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        # Set by the supervisor before start (sandbox/services.py): more rule files, loaded
        # with the service's, and config text appended after the app's scrape job.
        self.extra_rule_files: list[Path] = []
        self.extra_config = ""
        # `sandbox up --history 8d`: days of history joined to the live series (seconds, faults,
        # the disk series' mountpoint); None keeps the synthetic yesterday only.
        self.history: tuple[float, tuple[str, ...], Path] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, port: int, app_port: int, timeout: float = 15.0) -> None:
        """Write the config, start the server and wait until its HTTP API answers."""
        binary = shutil.which("prometheus")
        if binary is None:
            raise RuntimeError("the prometheus binary is not installed (apt-get install prometheus)")
        self.dir.mkdir(parents=True, exist_ok=True)
        self.app_port = app_port
        config = self._write_config(with_rules=True)
        if not (self.dir / "tsdb").exists():
            # Only before the first start: yesterday's synthetic series, for `offset 1d`, or
            # with --history days of the service's series ending now, on the live labels.
            history.write_blocks(self.dir / "tsdb", state.PROMETHEUS_JOB, self.dir, spec=self._history_spec(app_port))
        self.port = port
        log_start = self.log_file.tell()
        self.proc = daemon.launch(
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={self.dir / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
                # Longer than the longest --history (30d): retention counts back from the newest block.
                "--storage.tsdb.retention.time=60d",
                # Lets a test reload after adding history blocks to the TSDB.
                "--web.enable-lifecycle",
                # A reload re-discovers Alertmanager (~5 s): alerts evaluated meanwhile are
                # dropped and, by default, sent again only a minute later.
                "--rules.alert.resend-delay=1s",
            ],
            self.log_file,
        )
        daemon.wait_ready("prometheus", self.proc, self.log_file, log_start, port, self.url, timeout)

    def _history_spec(self, app_port: int) -> history.Spec | None:
        if self.history is None:
            return None
        seconds, faults, mountpoint = self.history
        from sandbox.app.observability import snapshot  # the disk figures the app will report

        return history.Spec(
            seconds=seconds,
            # The live scrape's instance label: history and live app are one series.
            instance=f"127.0.0.1:{app_port}",
            mountpoint=str(mountpoint),
            disk=snapshot(mountpoint),
            faults=faults,
        )

    def _write_config(self, with_rules: bool) -> Path:
        config = self.dir / "prometheus.yml"
        rule_files = f"rule_files:\n  - {state.RULES_FILE}\n" if with_rules else ""
        if with_rules:
            rule_files += "".join(f"  - {extra}\n" for extra in self.extra_rule_files)
        config.write_text(
            CONFIG_TEMPLATE.format(rule_files=rule_files, job=state.PROMETHEUS_JOB, app_port=self.app_port)
            + self.extra_config
        )
        return config

    def set_rules(self, enabled: bool, timeout: float = 10.0) -> None:
        """Load or drop the alert rules (the rules_missing fault) and wait until it shows."""
        self._write_config(with_rules=enabled)
        httpx.post(f"{self.url}/-/reload", timeout=5).raise_for_status()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            groups = httpx.get(f"{self.url}/api/v1/rules", timeout=2).json()["data"]["groups"]
            if bool(groups) == enabled:
                return
            time.sleep(0.1)
        raise RuntimeError("Prometheus did not apply the rule change")

    def running(self) -> bool:
        """Tell whether the process is alive."""
        return daemon.running(self.proc)

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, then SIGKILL if it takes too long."""
        daemon.stop(self.proc, timeout)

    def query(self, promql: str) -> list[dict[str, Any]]:
        """Run an instant query and return its vector (empty on any failure)."""
        try:
            response = httpx.get(f"{self.url}/api/v1/query", params={"query": promql}, timeout=2)
            data = response.json()
        except (httpx.HTTPError, ValueError):
            return []
        if data.get("status") != "success":
            return []
        result = data["data"]["result"]
        return result if isinstance(result, list) else []

    def scalar(self, promql: str) -> float | None:
        """Return the first sample's value of an instant query, or None."""
        result = self.query(promql)
        if not result:
            return None
        return float(result[0]["value"][1])
