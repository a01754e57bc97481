"""A small HTTP server of the sandbox's own on 127.0.0.1, served from a daemon thread."""

from __future__ import annotations

import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class LocalServer:
    """Owns one ThreadingHTTPServer: bind, serve in a thread, report its URL, stop."""

    name = "server"

    def __init__(self) -> None:
        self.server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def serve(self, port: int, handler: type[BaseHTTPRequestHandler]) -> None:
        """Bind (raising OSError on a clash) and serve in a daemon thread."""
        self.server = ThreadingHTTPServer(("127.0.0.1", port), handler)
        threading.Thread(target=self.server.serve_forever, name=self.name, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


class JsonHandler(BaseHTTPRequestHandler):
    """A quiet request handler that answers JSON (the stand-ins' and the control API's)."""

    content_type = "application/json"

    def log_message(self, format: str, *args: object) -> None:
        pass  # the stand-ins are quiet; the supervisor log is for the sandbox itself

    def _reply(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", self.content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _bearer_ok(self, token: str, missing: Any, invalid: Any) -> bool:
        """Check ``Authorization: Bearer <token>``; else answer 401 with ``missing`` or ``invalid``."""
        header = self.headers.get("Authorization", "")
        scheme, _, given = header.partition(" ")
        if not header:
            self._reply(401, missing)
            return False
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
            self._reply(401, invalid)
            return False
        return True
