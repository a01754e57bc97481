"""The rate limiter of the faults throttled_500 and throttled_429, as production has one.

It sits outside the service's metrics middleware (a throttled request never reaches
http_requests_total), counts every request that reaches the app, ``/metrics`` included,
and exempts ``/health`` and ``/ping`` (TARGET.md, "Seen on a real deployment"). One fixed
window for all clients: the sandbox's own traffic alone is above its limit, so while the
fault is on, nearly every request that is not exempt is throttled.

- throttled_500: the real service's behaviour. The limiter's 429 is swallowed by a generic
  exception handler: HTTP 500 with the INTERNAL_ERROR envelope, and the log has
  ``HTTPException: 429: Rate limit exceeded``.
- throttled_429: a limiter that says what it is: 429 with Retry-After.

After a throttled answer on a kept-alive connection, the next request on that connection is
reset (RST), as production resets an idle keep-alive connection after a burst.
"""

from __future__ import annotations

import threading
import time

from sandbox.app.web import Response, error_response, json_response

LIMIT = 5
WINDOW = 10.0
EXEMPT = frozenset({"/api/v1/health", "/api/v1/ping"})
RETRY_AFTER = "1"


class FixedWindow:
    """At most LIMIT requests per WINDOW seconds, for every client together."""

    def __init__(self, limit: int = LIMIT, window: float = WINDOW) -> None:
        self.limit, self.window = limit, window
        self._start = 0.0
        self._count = 0
        self._lock = threading.Lock()

    def allow(self) -> bool:
        now = time.monotonic()
        with self._lock:
            if now - self._start >= self.window:
                self._start, self._count = now, 0
            self._count += 1
            return self._count <= self.limit


def throttled_answer(kind: str, path: str) -> Response:
    """What the client gets: the generic 500 envelope, or an honest 429."""
    if kind == "throttled_429":
        body = {"error": {"code": "HTTP_429", "message": "Rate limit exceeded", "status": 429, "path": path}}
        return json_response(429, body, {"Retry-After": RETRY_AFTER})
    return error_response(500, "INTERNAL_ERROR", "An unexpected error occurred", path)
