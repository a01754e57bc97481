"""The value types an environment file writes as text: durations ("30s", "15m") and rates ("60/min")."""

from __future__ import annotations

import re


class Duration(float):
    """Seconds, written in the file as "30s", "15m" or a number."""


# One grammar for every rate: "60/min", "2/s", "0.5/s"; a limit ([api] rate_limit) counts whole requests.
_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*/\s*(s|sec|second|m|min|minute|h|hour)\s*$")
_RATE_SECONDS = {"s": 1.0, "sec": 1.0, "second": 1.0, "m": 60.0, "min": 60.0, "minute": 60.0}
_RATE_SECONDS.update({"h": 3600.0, "hour": 3600.0})


def parse_rate(text: str) -> tuple[int, float] | None:
    """Parse "60/min" into (60, 60.0); "" is no limit (None); anything else raises ValueError."""
    if not text.strip():
        return None
    m = _RATE.match(text)
    if not m or not m[1].isdigit() or int(m[1]) < 1:
        raise ValueError(f'rate_limit {text!r} is not "N/s", "N/min" or "N/hour" with N >= 1')
    return int(m[1]), _RATE_SECONDS[m[2]]


def per_second(text: str) -> float:
    """Requests per second from "2/s", "30/min", "0.5/s" or "900/hour"; ValueError with the accepted forms."""
    m = _RATE.match(text or "")
    if not m:
        raise ValueError(f"not a request rate: {text!r} (write e.g. 2/s or 30/min)")
    return float(m[1]) / _RATE_SECONDS[m[2]]
