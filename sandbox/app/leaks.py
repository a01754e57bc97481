"""Resource leaks the app can be told to have: held DB connections and growing memory."""

from __future__ import annotations

import threading

from sandbox.app.dbpool import ConnectionPool

LEAKED_CONNECTIONS = 22
MEMORY_STEP = 2 * 1024 * 1024
MEMORY_CAP = 1024 * 1024 * 1024


class Leaks:
    """Switches the connection_leak and memory_leak faults on (a redeploy clears them)."""

    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool
        self._memory: list[bytes] = []
        self._memory_on = threading.Event()
        self._started = False

    def apply(self, active: frozenset[str]) -> None:
        """Follow the active fault set (called by the fault watcher before it acks)."""
        if "connection_leak" in active:
            self.pool.leak(LEAKED_CONNECTIONS)
        if "memory_leak" in active:
            self._memory_on.set()
            if not self._started:
                self._started = True
                threading.Thread(target=self._grow, name="memory-leak", daemon=True).start()
        else:
            self._memory_on.clear()

    def _grow(self) -> None:
        while True:
            self._memory_on.wait()
            if len(self._memory) * MEMORY_STEP < MEMORY_CAP:
                # Filled bytes, so the pages are really resident.
                self._memory.append(b"\x5a" * MEMORY_STEP)
            threading.Event().wait(1.0)
