"""A stand-in for Grafana's annotations API that keeps every request, and the documented shape of one.

Shared by the unit test of the annotation client and the end-to-end exports test.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Recorder(BaseHTTPRequestHandler):
    """A small HTTP server that keeps every request and answers like Grafana's annotations API."""

    seen: list[dict[str, Any]] = []

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.seen.append({"path": self.path, "headers": dict(self.headers), "body": body})
        answer = json.dumps({"message": "Annotation added", "id": 42}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)


def check_annotation_request(req: dict[str, Any], token: str, deployed_ms: int | None = None) -> dict[str, Any]:
    """The documented shape of POST /api/annotations (Grafana HTTP API)."""
    assert req["path"] == "/api/annotations"
    headers = {k.lower(): v for k, v in req["headers"].items()}
    assert headers["authorization"] == f"Bearer {token}"
    assert headers["content-type"] == "application/json"
    body = json.loads(req["body"])
    assert isinstance(body["time"], int) and len(str(body["time"])) == 13  # epoch milliseconds
    if deployed_ms is not None:
        assert abs(body["time"] - deployed_ms) < 1000  # the record keeps whole seconds
    assert isinstance(body["tags"], list) and all(isinstance(t, str) for t in body["tags"])
    assert isinstance(body["text"], str) and body["text"].startswith("postdeploy ")
    assert set(body) <= {"time", "timeEnd", "tags", "text", "dashboardUID", "panelId"}
    return body


@contextmanager
def recording() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A Grafana stand-in on 127.0.0.1 that records the requests: (its URL, what it was sent)."""
    Recorder.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", Recorder.seen
    finally:
        server.shutdown()
        server.server_close()
