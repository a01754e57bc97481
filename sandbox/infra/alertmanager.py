"""A real Alertmanager (Debian's prometheus-alertmanager) that Prometheus sends its alerts to.

Started before Prometheus (otherwise Prometheus resends its first alerts only a minute
later), with its own data dir, 127.0.0.1 only and clustering off (``--cluster.listen-address=``,
or it binds 0.0.0.0:9094). Its one receiver notifies nobody: the sandbox only needs the
alerts to be held and listed by ``GET /api/v2/alerts``.
"""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from pathlib import Path
from typing import IO, Any

import httpx

from sandbox.infra import daemon

CONFIG = """\
# Written by the sandbox supervisor; regenerated on every start.
route:
  receiver: "null"
  group_by: ["alertname"]
  group_wait: 1s
  group_interval: 5s
  repeat_interval: 1h
receivers:
  - name: "null"
"""


class AlertmanagerServer:
    """One Alertmanager process with its own storage under the runtime directory."""

    def __init__(self, runtime_dir: Path, log_file: IO[bytes]) -> None:
        self.dir = runtime_dir / "alertmanager"
        self.log_file = log_file
        self.port: int | None = None
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, port: int, timeout: float = 15.0) -> None:
        """Write the config, start the server and wait until it is ready."""
        binary = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
        if binary is None:
            raise RuntimeError("prometheus-alertmanager is not installed (apt-get install prometheus-alertmanager)")
        self.dir.mkdir(parents=True, exist_ok=True)
        config = self.dir / "alertmanager.yml"
        config.write_text(CONFIG)
        self.port = port
        log_start = self.log_file.tell()
        self.proc = daemon.launch(
            [
                binary,
                f"--config.file={config}",
                f"--storage.path={self.dir / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--cluster.listen-address=",
            ],
            self.log_file,
        )
        daemon.wait_ready("alertmanager", self.proc, self.log_file, log_start, port, self.url, timeout)

    def alerts(self) -> list[dict[str, Any]]:
        """Return the active alerts it holds (empty on any failure)."""
        try:
            data = httpx.get(f"{self.url}/api/v2/alerts", params={"active": "true"}, timeout=2).json()
        except (httpx.HTTPError, ValueError):
            return []
        return data if isinstance(data, list) else []

    def resolve(self, alertname: str) -> None:
        """Post the alert back with endsAt now, as Prometheus does when it resolves one.

        Needed when Prometheus lost the rule while the alert fired (rules_missing on top of
        alert_firing): it then never sends the resolution, and Alertmanager would hold the
        alert until it expires minutes later.
        """
        # Millisecond precision: a truncated second can fall before startsAt (a 400).
        now = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        resolved = [
            {"labels": a["labels"], "annotations": a.get("annotations", {}), "startsAt": a["startsAt"], "endsAt": now}
            for a in self.alerts()
            if a.get("labels", {}).get("alertname") == alertname
        ]
        if resolved:
            httpx.post(f"{self.url}/api/v2/alerts", json=resolved, timeout=2).raise_for_status()

    def running(self) -> bool:
        return daemon.running(self.proc)

    def stop(self, timeout: float = 10.0) -> None:
        daemon.stop(self.proc, timeout)
