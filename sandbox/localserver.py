"""A small HTTP server of the sandbox's own on 127.0.0.1, served from a daemon thread."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


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
