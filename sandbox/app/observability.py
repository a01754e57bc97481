"""App-side faults of the observability checks: error_burst, stuck_metric, disk_filling.

Also the node_exporter-style disk series the capacity check reads. The sandbox's disk is
shared with whatever else runs on the machine, whose writes would make a projection over
a 30-second window pure noise; so the series report the real filesystem's size and the
free space measured when the app started, held still, and under ``disk_filling`` the free
space falls at a rate that empties it in two hours.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from prometheus_client.core import REGISTRY, GaugeMetricFamily
from prometheus_client.registry import Collector

from sandbox.app.appmetrics import DB_CONNECTIONS

ERROR_BURST_LINES = 120
DISK_EMPTY_SECONDS = 7200.0


def snapshot(mountpoint: Path) -> tuple[float, float]:
    """Return (size, free) of the filesystem, measured once per state directory.

    Every app process (each redeploy, each heal) reads the same snapshot, so a window
    spanning two processes sees a flat line, not the difference between two measurements.
    """
    path = mountpoint / "disk_snapshot.json"
    try:
        data = json.loads(path.read_text())
        return float(data["size"]), float(data["avail"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    st = os.statvfs(mountpoint)
    size, avail = float(st.f_blocks * st.f_frsize), float(st.f_bavail * st.f_frsize)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"size": size, "avail": avail}))
    os.replace(tmp, path)
    return size, avail


class DiskCollector(Collector):
    """node_filesystem_avail_bytes / node_filesystem_size_bytes for one mountpoint."""

    def __init__(self, mountpoint: Path) -> None:
        self.mountpoint = str(mountpoint)
        self.size, self.avail = snapshot(mountpoint)
        self.filling_since: float | None = None

    def free_now(self) -> float:
        if self.filling_since is None:
            return self.avail
        rate = self.avail / DISK_EMPTY_SECONDS
        return max(0.0, self.avail - rate * (time.time() - self.filling_since))

    def collect(self) -> Iterator[GaugeMetricFamily]:
        labels = ["device", "fstype", "mountpoint"]
        values = ["/dev/sandbox", "ext4", self.mountpoint]
        avail = GaugeMetricFamily("node_filesystem_avail_bytes", "Filesystem space available", labels=labels)
        avail.add_metric(values, self.free_now())
        size = GaugeMetricFamily("node_filesystem_size_bytes", "Filesystem size in bytes", labels=labels)
        size.add_metric(values, self.size)
        yield avail
        yield size


def _burst_lines() -> list[str]:
    lines = []
    for i in range(ERROR_BURST_LINES):
        kind = i % 3
        if kind == 0:
            lines.append(
                f"FinCra request failed: [Errno 111] Connection refused (attempt {i % 7 + 1}, api.fincra.com:443)"
            )
        elif kind == 1:
            lines.append(f"Wallet balance sync failed: query timeout after {25 + i % 10} s (wallet {uuid.uuid4()})")
        else:
            lines.append(f"KYC provider answered 500 Internal Server Error for request {uuid.uuid4()}")
    return lines


class ObservabilityFaults:
    """Follows the active fault set (called by the fault watcher before it acks)."""

    def __init__(self, log: logging.Logger, mountpoint: Path) -> None:
        self.log = log
        self.disk = DiskCollector(mountpoint)
        REGISTRY.register(self.disk)
        self._burst_done = False
        self._lock = threading.Lock()

    def apply(self, active: frozenset[str]) -> None:
        with self._lock:
            if "error_burst" in active and not self._burst_done:
                self._burst_done = True
                for line in _burst_lines():
                    self.log.error(line)
            if "stuck_metric" in active:
                # The gauge's collector now always says 0, whatever the pool does: a dead metric.
                DB_CONNECTIONS.set_function(lambda: 0)
            if "disk_filling" in active and self.disk.filling_since is None:
                self.disk.filling_since = time.time()
