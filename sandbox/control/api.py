"""The supervisor's control API on 127.0.0.1, used by the CLI.

``GET /status``, ``POST /fault/<name>``, ``POST /heal``, ``POST /shutdown``; JSON in and
out. Faults and heal are long requests: they answer once the change is in effect.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Protocol

from sandbox.common.localserver import JsonHandler, LocalServer
from sandbox.control.faults import FAULTS, OperationError

OPERATION_TIMEOUT = 120.0


class Operations(Protocol):
    """What the control API asks of the supervisor."""

    stopping: threading.Event

    def status(self) -> dict[str, Any]: ...

    def submit(self, work: Callable[[], Any], timeout: float) -> Any: ...

    def apply_fault(self, name: str) -> dict[str, Any]: ...

    def heal(self) -> dict[str, Any]: ...


class ControlHandler(JsonHandler):
    """Dispatches the four control routes to the supervisor."""

    supervisor: Operations

    def do_GET(self) -> None:
        if self.path.rstrip("/") == "/status":
            self._reply(200, self.supervisor.status())
        else:
            self._reply(404, {"error": f"no such route: GET {self.path}"})

    def do_POST(self) -> None:
        path = self.path.rstrip("/")
        sup = self.supervisor
        if path == "/shutdown":
            self._reply(202, {"ok": True, "message": "shutting down"})
            sup.stopping.set()
            return
        if path.startswith("/fault/"):
            name = path.removeprefix("/fault/")
            if name not in FAULTS:
                self._reply(404, {"error": f"unknown fault {name!r}", "valid": sorted(FAULTS)})
                return
            self._run(lambda: sup.apply_fault(name))
        elif path == "/heal":
            self._run(sup.heal)
        else:
            self._reply(404, {"error": f"no such route: POST {self.path}"})

    def _run(self, work: Any) -> None:
        try:
            result = self.supervisor.submit(work, OPERATION_TIMEOUT)
        except OperationError as exc:
            self._reply(exc.status, {"error": str(exc)})
        except Exception as exc:
            self._reply(500, {"error": f"{type(exc).__name__}: {exc}"})
        else:
            self._reply(200, result)


class ControlServer(LocalServer):
    """The control API's HTTP server, in a daemon thread."""

    name = "control"

    def __init__(self, supervisor: Operations) -> None:
        super().__init__()
        self.supervisor = supervisor

    def start(self, port: int) -> None:
        """Bind (raising OSError on a clash) and serve."""
        self.serve(port, type("BoundControlHandler", (ControlHandler,), {"supervisor": self.supervisor}))
