"""The cpu_burn fault: threads that keep the app's CPU busy while the fault is on."""

from __future__ import annotations

import hashlib
import threading

THREADS = 6
# hashlib releases the GIL for buffers this large, so the threads really use CPU in parallel
# and the request threads still get their turn.
CHUNK = b"\x00" * (1 << 20)


class CpuBurn:
    """Switches the burn threads on and off with the fault set."""

    def __init__(self) -> None:
        self._on = threading.Event()
        self._started = False

    def apply(self, active: frozenset[str]) -> None:
        if "cpu_burn" in active:
            self._on.set()
            if not self._started:
                self._started = True
                for i in range(THREADS):
                    threading.Thread(target=self._burn, name=f"cpu-burn-{i}", daemon=True).start()
        else:
            self._on.clear()

    def _burn(self) -> None:
        while True:
            self._on.wait()
            hashlib.sha256(CHUNK).digest()
