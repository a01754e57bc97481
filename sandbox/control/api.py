"""The supervisor's control API on 127.0.0.1, used by the CLI.

``GET /status``, ``POST /fault/<name>``, ``POST /heal``, ``POST /shutdown``; JSON in and
out. Faults and heal are long requests: they answer once the change is in effect.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sandbox.common.localserver import JsonHandler, LocalServer
from sandbox.control.faults import FAULTS

if TYPE_CHECKING:
    from sandbox.control.supervisor import Supervisor

OPERATION_TIMEOUT = 120.0


class OperationError(Exception):
    """A fault or heal that cannot be done; carries the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class ControlHandler(JsonHandler):
    """Dispatches the four control routes to the supervisor."""

    supervisor: Supervisor

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

    def __init__(self, supervisor: Supervisor) -> None:
        super().__init__()
        self.supervisor = supervisor

    def start(self, port: int) -> None:
        """Bind (raising OSError on a clash) and serve."""
        self.serve(port, type("BoundControlHandler", (ControlHandler,), {"supervisor": self.supervisor}))
