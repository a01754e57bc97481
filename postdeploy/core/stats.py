"""The statistics every check rests on, in one place, from the standard library.

Pure functions (no I/O) so that the numbers a verdict rests on can be unit-tested:
- `fit` and `slope`: the least-squares line through (time, value) points
  (`statistics.linear_regression`; `slope` adds the fit quality r² from
  `statistics.correlation`). A trend is judged from every point in the window, never from
  two samples: one scrape that lands on a spike must not turn into a "leak".
- `percentile`: linear interpolation between closest ranks, the same as
  `statistics.quantiles(method="inclusive")` at whole percents, for any percent.
- `poisson_cdf`: the chance of seeing so few events at a given rate.
- the small arithmetic of series: flat, unchanged tail, time to empty, growth, per day.
"""

from __future__ import annotations

import math
import statistics
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


@dataclass(frozen=True)
class Slope:
    """A least-squares line through (time, value) points: growth per second and fit quality."""

    per_second: float
    r2: float
    points: int
    span: float  # seconds between the first and the last point
    first: float
    last: float

    def per_hour(self) -> float:
        return self.per_second * 3600.0

    def projection(self, seconds: float) -> float:
        """The value `seconds` after the last point if the line holds."""
        return self.last + self.per_second * seconds


def _line(points: Sequence[tuple[float, float]], least: int) -> tuple[list[tuple[float, float]], float] | None:
    """The finite points and the least-squares slope through them.

    None with fewer than `least` finite points or no time span.
    """
    pts = [(t, v) for t, v in points if math.isfinite(t) and math.isfinite(v)]
    if len(pts) < max(least, 2):
        return None
    try:
        k, _ = statistics.linear_regression([t for t, _ in pts], [v for _, v in pts])
    except statistics.StatisticsError:
        return None  # every point at the same time
    except (ValueError, OverflowError):
        return None  # values so large that their sums overflow: no line to speak of
    return (pts, k) if math.isfinite(k) else None


def fit(points: Sequence[tuple[float, float]]) -> Trend | None:
    """Return the least-squares trend of the finite points, or None with fewer than two times."""
    line = _line(points, 2)
    if line is None:
        return None
    pts, k = line
    return Trend(k, pts[-1][1], len(pts), pts[-1][0] - pts[0][0])


def slope(points: Sequence[tuple[float, float]]) -> Slope | None:
    """Fit a line to the points; None with fewer than 3 points or no time span.

    r2 is 1 for a perfect line and near 0 for noise; a flat series has r2 0 (no trend).
    """
    line = _line(points, 3)
    if line is None:
        return None
    pts, k = line
    try:
        r = statistics.correlation([t for t, _ in pts], [v for _, v in pts])
    except (statistics.StatisticsError, ValueError, OverflowError):
        r = 0.0  # a constant series: no trend to fit
    r2 = max(0.0, min(1.0, r * r)) if math.isfinite(r) else 0.0
    return Slope(k, r2, len(pts), pts[-1][0] - pts[0][0], pts[0][1], pts[-1][1])


def percentile(values: Sequence[float], q: float) -> float:
    """Return the q-th percentile (0-100) with linear interpolation between closest ranks."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100.0
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def poisson_cdf(k: float, lam: float) -> float:
    """P(X <= k) for a Poisson count of mean `lam` (k rounded down; k < 0 gives 0)."""
    if k < 0:
        return 0.0
    if lam <= 0:
        return 1.0
    term = total = math.exp(-lam)
    for i in range(1, int(k) + 1):
        term *= lam / i
        total += term
    return min(1.0, total)


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
