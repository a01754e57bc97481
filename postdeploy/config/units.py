"""The value types an environment file writes as text: durations ("30s", "15m") and rates ("60/min")."""

from __future__ import annotations

import re


class Duration(float):
    """Seconds, written in the file as "30s", "15m" or a number."""


_RATE = re.compile(r"^\s*(\d+)\s*/\s*(s|sec|second|m|min|minute|h|hour)\s*$")
_RATE_SECONDS = {"s": 1.0, "sec": 1.0, "second": 1.0, "m": 60.0, "min": 60.0, "minute": 60.0}
_RATE_SECONDS.update({"h": 3600.0, "hour": 3600.0})


def parse_rate(text: str) -> tuple[int, float] | None:
    """Parse "60/min" into (60, 60.0); "" is no limit (None); anything else raises ValueError."""
    if not text.strip():
        return None
    m = _RATE.match(text)
    if not m or int(m[1]) < 1:
        raise ValueError(f'rate_limit {text!r} is not "N/s", "N/min" or "N/hour" with N >= 1')
    return int(m[1]), _RATE_SECONDS[m[2]]
