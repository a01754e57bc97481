"""Durations as people write them in configuration ("90s", "15m", "1h30m") and as PromQL wants them; durations and sizes as people read them."""

from __future__ import annotations

import math
import re

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")


def parse_duration(text: str | int | float) -> float:
    """Return seconds for "1h30m", "45s", "250ms" or a bare number of seconds."""
    if isinstance(text, bool):
        raise ValueError(f"not a duration: {text!r}")
    if isinstance(text, int | float):
        if not math.isfinite(text):
            raise ValueError(f"not a duration: {text!r}")
        if text < 0:
            raise ValueError(f"negative duration: {text!r}")
        return float(text)
    s = text.strip().replace(" ", "")
    if not s:
        raise ValueError("empty duration")
    pos, total = 0, 0.0
    for m in _PART.finditer(s):
        if m.start() != pos:
            break
        total += float(m[1]) * _UNITS[m[2]]
        pos = m.end()
    if pos != len(s):
        try:
            return parse_duration(float(s))
        except ValueError:
            raise ValueError(f"not a duration: {text!r} (use e.g. 30s, 15m, 1h)") from None
    return total


def promql_duration(seconds: float) -> str:
    """Return a PromQL range for `seconds`, rounded up to whole seconds (at least 1s)."""
    whole = max(1, int(-(-seconds // 1)))
    return f"{whole}s"


def human(seconds: float) -> str:
    """Return a short human form: 0.42 s -> "420ms", 90 -> "1m30s"."""
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    whole = int(round(seconds))
    h, rest = divmod(whole, 3600)
    m, s = divmod(rest, 60)
    out = (f"{h}h" if h else "") + (f"{m}m" if m else "") + (f"{s}s" if s or not (h or m) else "")
    return out


def human_bytes(n: float) -> str:
    """Return 8.1 MB, 1.5 GB ... (powers of 1024, as pg_size_pretty)."""
    sign = "-" if n < 0 else ""
    n = abs(n)
    for unit in ("bytes", "kB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{sign}{n:.0f} {unit}" if unit == "bytes" else f"{sign}{n:.1f} {unit}"
        n /= 1024
    return f"{sign}{n:.1f} TB"  # pragma: no cover


def human_days(seconds: float | None) -> str:
    """Return "never (not growing)", "3.2 days", "5.0 hours"."""
    if seconds is None:
        return "never (not growing)"
    if seconds >= 86400:
        return f"{seconds / 86400:.1f} days"
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} hours"
    return f"{seconds / 60:.1f} minutes"
