"""How the app process learns of its faults: faults.json, written by the supervisor, and faults.ack.

The supervisor rewrites faults.json with the active app-side faults (see the registry in
sandbox/control/faults.py); the app re-reads it when its mtime changes and answers with
faults.ack, so the supervisor can return only once the fault is in effect.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any


def write_fault_file(path: Path, app_faults: list[str], generation: int, error_nonce: int) -> None:
    """Publish the app-side faults; the generation lets the writer wait for the ack."""
    payload = {
        "generation": generation,
        "faults": sorted(app_faults),
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
