"""Trend arithmetic: the slope of a series, where it leads, and when a resource fills.

Pure functions (no I/O) so that the numbers a verdict rests on can be unit-tested. A
trend is judged from the least-squares slope of every point in the window, never from
two samples: one scrape that lands on a spike must not turn into a "leak".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Trend:
    """A least-squares line through (time, value) points: per-second slope and the last value."""

    slope: float
    last: float
    points: int
    span: float

    def projected(self, seconds_ahead: float) -> float:
        """Return the value the line reaches `seconds_ahead` after the last point."""
        return self.last + self.slope * seconds_ahead

    def __repr__(self) -> str:
        return f"<Trend {self.slope * 60:+.3g}/min over {self.span:.0f}s ({self.points} points), last {self.last:g}>"


def centre(
    points: Sequence[tuple[float, float]], least: int
) -> tuple[list[tuple[float, float]], float, float, float] | None:
    """The finite points, their mean time, mean value and sum of squared time deviations.

    None with fewer than `least` finite points or no time span (a least-squares fit's start).
    """
    pts = [(t, v) for t, v in points if math.isfinite(t) and math.isfinite(v)]
    if len(pts) < least:
        return None
    n = len(pts)
    mt = sum(t for t, _ in pts) / n
    mv = sum(v for _, v in pts) / n
    stt = sum((t - mt) ** 2 for t, _ in pts)
    if stt <= 0:
        return None
    return pts, mt, mv, stt


def fit(points: Sequence[tuple[float, float]]) -> Trend | None:
    """Return the least-squares trend of the finite points, or None with fewer than two times."""
    centred = centre(points, 2)
    if centred is None:
        return None
    pts, mt, mv, var = centred
    slope = sum((t - mt) * (v - mv) for t, v in pts) / var
    return Trend(slope, pts[-1][1], len(pts), pts[-1][0] - pts[0][0])


def flat(points: Sequence[tuple[float, float]]) -> bool:
    """Tell whether every value of the points is the same (a metric that never moved)."""
    values = {v for _, v in points if math.isfinite(v)}
    return len(values) == 1


def unchanged_tail(points: Sequence[tuple[float, float]]) -> tuple[int, float]:
    """Return how many trailing points share the last value, and the seconds they span."""
    if not points:
        return 0, 0.0
    last = points[-1][1]
    n = 0
    for _, v in reversed(points):
        if v != last:
            break
        n += 1
    return n, points[-1][0] - points[-n][0]


def seconds_to_empty(free: float, slope: float) -> float | None:
    """Return how long until `free` reaches 0 at `slope` per second; None when it is not falling."""
    if slope >= 0 or not math.isfinite(slope) or not math.isfinite(free):
        return None
    return max(0.0, free / -slope)


def disagree(a: float, b: float, abs_tol: float, ratio: float) -> bool:
    """Tell whether two readings of the same quantity differ by more than max(abs_tol, ratio x larger)."""
    return abs(a - b) > max(abs_tol, ratio * max(abs(a), abs(b)))


def growth(old: float, new: float) -> float | None:
    """Return the relative growth from old to new (0.25 = +25 %); None when old is not positive."""
    if old <= 0:
        return None
    return (new - old) / old


def per_day(delta: float, seconds: float) -> float | None:
    """Return a change per day from a change over `seconds`; None for a span of zero or less."""
    if seconds <= 0:
        return None
    return delta * 86400.0 / seconds


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
