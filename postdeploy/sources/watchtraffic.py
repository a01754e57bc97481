"""`--watch-traffic 2/s`: paced GETs to side-effect-free endpoints, so that an idle service produces evidence.

The endpoints come from the environment file (`[watch] traffic_endpoints`); only GET, one
request at a time, on a client of its own (its requests are counted apart from the
users' traffic and from the suite's API request budget). Every request has the API's
timeouts; a failed request is counted, never raised.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx

from postdeploy.config import Api
from postdeploy.config.units import parse_rate as parse_limit
from postdeploy.config.units import per_second
from postdeploy.sources.apiclient import tls_verify

MAX_RATE = 20.0


def parse_rate(text: str) -> float:
    """Requests per second from "2/s" or "30/min" (config.units' grammar), at most MAX_RATE; ValueError otherwise."""
    rate = per_second(text)
    if not 0 < rate <= MAX_RATE:
        raise ValueError(f"request rate {text!r} out of range: above 0 and at most {MAX_RATE:g}/s")
    return rate


def over_limit(rate: float, rate_limit: str) -> str:
    """Why `rate` GETs per second would break the env's `[api] rate_limit` ("" when within it or none).

    The watch's own traffic must not be what throttles the service: that would make the
    evidence it exists to produce.
    """
    limit = parse_limit(rate_limit)
    if limit is None:
        return ""
    allowed = limit[0] / limit[1]
    if rate <= allowed:
        return ""
    return f"{rate:g}/s is above [api] rate_limit = {rate_limit!r} ({allowed:.3g}/s): the service would throttle the watch's own requests"


class Traffic:
    """A background thread sending paced GETs until `stop()`."""

    def __init__(self, api: Api, endpoints: list[str], rate: float, label: str = "") -> None:
        self.endpoints = list(endpoints)
        self.rate = rate
        self.label = label or f"{rate:g}/s"
        self.sent = 0
        self.failed = 0
        self.by_status: dict[str, int] = {}
        self._stop = threading.Event()
        self._client = httpx.Client(
            base_url=api.base_url.rstrip("/"),
            timeout=httpx.Timeout(api.read_timeout, connect=api.connect_timeout),
            verify=tls_verify(api),
            headers={**api.headers, "User-Agent": "postdeploy-watch-traffic"},
            follow_redirects=False,
        )
        self._thread = threading.Thread(target=self._loop, name="postdeploy-watch-traffic", daemon=True)

    def start(self) -> Traffic:
        self._thread.start()
        return self

    def _loop(self) -> None:
        period = 1.0 / self.rate
        next_at = time.monotonic()
        n = 0
        while not self._stop.is_set():
            path = self.endpoints[n % len(self.endpoints)]
            n += 1
            try:
                status = str(self._client.get(path).status_code)
            except httpx.HTTPError as exc:
                status = type(exc).__name__
            self.sent += 1
            self.by_status[status] = self.by_status.get(status, 0) + 1
            if not status.isdigit() or int(status) >= 500:
                self.failed += 1
            next_at += period
            # Paced, not bursting to catch up after a slow answer.
            next_at = max(next_at, time.monotonic())
            self._stop.wait(max(0.0, next_at - time.monotonic()))

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self._client.close()

    def summary(self) -> dict[str, Any]:
        return {
            "rate": self.label,
            "endpoints": self.endpoints,
            "sent": self.sent,
            "failed": self.failed,
            "by_status": dict(sorted(self.by_status.items())),
        }
