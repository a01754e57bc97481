"""Throttling is not an outage: pacing the suite's own requests, and recognising a rate limiter.

A rate limiter's answer says nothing about the release: a check whose failure is a throttled
response (429, 503 + Retry-After, or a signal the environment file declares) is reported as
throttled, at major severity, with the evidence, so that throttling alone never means rollback.
"""

from __future__ import annotations

import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import httpx

from postdeploy.config import ThrottleSignal, parse_rate
from postdeploy.core import results
from postdeploy.core.redaction import redact
from postdeploy.core.results import Result

THROTTLED = "throttled by the service's rate limiter"
KIND = results.THROTTLED
ADVICE = (
    "the service's rate limiter refused the suite's requests, so this check could not judge the release: "
    "re-run once the limit has reset; if the suite's own requests ate the budget, declare the limit as "
    '[api] rate_limit (e.g. "60/min") so the suite paces itself; ask who else calls the API so often '
    "(a scraper of /metrics counts too)"
)

# Reads the log since a moment and returns how many lines match a pattern (None: cannot tell).
LogCounter = Callable[[re.Pattern[str], datetime], "int | None"]


@dataclass(frozen=True)
class Event:
    """One throttled answer, or a connection the server reset, as evidence for the check."""

    marker: str  # what the failure summary says about it: "answered 500", "HTTP 429", "reset"
    text: str


class Pacer:
    """Keeps the suite's requests under `count` per `period` seconds (a sliding window)."""

    def __init__(self, limit: str, share: int = 1) -> None:
        parsed = parse_rate(limit)
        self.count, self.period = parsed if parsed else (0, 0.0)
        if self.count:
            self.count = max(1, self.count // max(1, share))
        self.sent: deque[float] = deque()
        self.waited = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        """Block until one more request fits the limit, then count it."""
        with self._lock:
            now = time.monotonic()
            # Kept for a minute at least: the evidence says how many the run sent in the last one.
            keep = max(self.period, 60.0)
            while self.sent and now - self.sent[0] >= keep:
                self.sent.popleft()
            if self.count:
                recent = [t for t in self.sent if now - t < self.period]
                if len(recent) >= self.count:
                    pause = self.period - (now - recent[-self.count])
                    if pause > 0:
                        time.sleep(pause)
                        self.waited += pause
                    now = time.monotonic()
            self.sent.append(now)

    def last_minute(self) -> int:
        """Requests this process sent in the last 60 s (the count a limiter would see from us)."""
        now = time.monotonic()
        with self._lock:
            return sum(1 for t in self.sent if now - t < 60.0)

    def describe(self) -> str:
        if not self.count:
            return "none declared ([api] rate_limit)"
        return f"{self.count} per {self.period:g} s"


def standard(resp: httpx.Response) -> str | None:
    """The HTTP ways of saying "slow down": 429, or 503 with Retry-After."""
    if resp.status_code == 429:
        return "429 Too Many Requests"
    if resp.status_code == 503 and "retry-after" in resp.headers:
        return f"503 with Retry-After: {resp.headers['retry-after']}"
    return None


def declared(
    resp: httpx.Response, signals: list[ThrottleSignal], sent_at: datetime, count_log: LogCounter | None
) -> str | None:
    """Match a response against the environment's throttle signals; return the evidence or None."""
    for sig in signals:
        if resp.status_code != sig.status:
            continue
        if sig.body and not re.search(sig.body, resp.text[:4000]):
            continue
        if not sig.log:
            return f"{sig.status} with a body matching {sig.body!r} (a declared throttle signal)"
        if count_log is None:
            continue
        # The service logs whole seconds: a line of the same second counts.
        n = count_log(re.compile(sig.log), sent_at.replace(microsecond=0))
        if n:
            return f"{sig.status}, and the log has {n} line(s) matching {sig.log!r} since {sent_at:%H:%M:%S} UTC"
    return None


def caused(result: Result, events: list[Event]) -> bool:
    """True when the failure is what the throttled answers made of the check."""
    text = result.summary + " " + " ".join(str(v) for v in result.evidence.values())
    return any(e.marker in text for e in events)


def reframe(result: Result, events: list[Event], sent_last_minute: int, pacing: str) -> Result:
    """Say that a failed check was throttled, with the evidence, at major severity."""
    seen: list[str] = []
    for e in events:
        if e.text not in seen:
            seen.append(e.text)
    evidence = dict(result.evidence)
    evidence["throttled"] = redact("; ".join(seen[:5]) + (f" (+{len(seen) - 5} more)" if len(seen) > 5 else ""))
    evidence["requests this run sent in the last minute"] = str(sent_last_minute)
    evidence["declared rate limit"] = pacing
    return replace(
        result,
        summary=f"{THROTTLED}: {result.summary}",
        evidence=evidence,
        advice=ADVICE,
        severity="major",
        kind=KIND,
    )


def now_utc() -> datetime:
    return datetime.now(UTC)
