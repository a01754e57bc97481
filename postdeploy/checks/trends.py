"""The judgements of the later phases: baseline tolerances with floors, minimum samples, business rates.

The statistics under them (slopes, Poisson) are in `postdeploy.core.stats`.

Plain functions without I/O, so that they are unit- and property-tested on their own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from postdeploy.core.durations import human
from postdeploy.core.stats import poisson_cdf


@dataclass(frozen=True)
class Drift:
    """One metric compared with its baseline: the verdict and the numbers behind it."""

    name: str
    current: float | None
    baseline: float | None
    allowed: str
    ok: bool | None  # None: cannot be judged (no data on one side)
    delta: str

    def line(self) -> str:
        state = {True: "ok", False: "OUT OF TOLERANCE", None: "no data"}[self.ok]
        return f"{self.name}: now {_fmt(self.name, self.current)}, baseline {_fmt(self.name, self.baseline)}, {self.delta} (allowed {self.allowed}): {state}"


def _fmt(name: str, value: float | None) -> str:
    if value is None:
        return "n/a"
    if "latency" in name or name.startswith("p"):
        return human(value)
    if "error" in name:
        return f"{value:.2%}"
    return f"{value:.2f}/s"


def _delta(current: float, base: float, unit: str) -> str:
    diff = current - base
    pct = f" ({diff / base:+.0%})" if base > 0 else ""
    if unit == "s":
        return f"{'+' if diff >= 0 else '-'}{human(abs(diff))}{pct}"
    if unit == "%":
        return f"{diff * 100:+.2f} points{pct}"
    return f"{diff:+.2f}/s{pct}"


def within(current: float, base: float, tolerance: float, floor: float) -> bool:
    """|current - base| <= max(tolerance x base, floor): a tiny baseline does not cry wolf."""
    return abs(current - base) <= max(tolerance * abs(base), floor)


def compare_rate(name: str, current: float | None, base: float | None, tolerance: float, floor: float) -> Drift:
    """Request rate within +-tolerance of the baseline (or within `floor` req/s)."""
    allowed = f"+-max({tolerance:.0%}, {floor:g}/s)"
    if current is None or base is None:
        return Drift(name, current, base, allowed, None, "")
    return Drift(name, current, base, allowed, within(current, base, tolerance, floor), _delta(current, base, "/s"))


def compare_latency(name: str, current: float | None, base: float | None, tolerance: float, floor: float) -> Drift:
    """Latency may not exceed the baseline by more than max(tolerance, floor); faster is fine."""
    allowed = f"+max({tolerance:.0%}, {human(floor)})"
    if current is None or base is None:
        return Drift(name, current, base, allowed, None, "")
    ok = current - base <= max(tolerance * base, floor)
    return Drift(name, current, base, allowed, ok, _delta(current, base, "s"))


def compare_errors(name: str, current: float | None, base: float | None, ratio: float, floor: float) -> Drift:
    """Error rate below ratio x baseline; a rate under `floor` never fails (0 errors x 2 is 0)."""
    allowed = f"< max({ratio:g}x, {floor:.2%})"
    if current is None or base is None:
        return Drift(name, current, base, allowed, None, "")
    ok = current <= max(ratio * base, floor)
    return Drift(name, current, base, allowed, ok, _delta(current, base, "%"))


# What a check that needs history says on an environment that has none yet (a first run).
NO_HISTORY = (
    "no history for this environment yet: run pre_deploy before deploying (it stores a baseline), "
    "or wait for a day of data"
)


def enough(count: float | None, need: int) -> bool:
    """The minimum-sample rule: a ratio or percentile needs `need` observations."""
    return count is not None and count >= need


def short_of(count: float | None, need: int, what: str, window: str) -> str:
    """The inconclusive sentence with its numbers."""
    got = 0 if count is None else count
    return f"inconclusive: {got:.0f} {what} in {window}, need {need}"


def per_hour(count: float, seconds: float) -> float:
    return count * 3600.0 / seconds if seconds > 0 else 0.0


# A count is "below the bound" when seeing so few at the bound's rate has less than this chance.
SIGNIFICANCE = 0.05


def business_verdict(count: float, seconds: float, low: float, high: float) -> tuple[str, str]:
    """Judge a business counter against [low, high] per hour: ("ok" | "bad" | "unsure", why).

    Short windows see few events: a count is judged against a bound only when chance alone
    would explain it less than 5 % of the time (a Poisson test at the bound's rate).
    """
    hourly = per_hour(count, seconds)
    lam_low, lam_high = low * seconds / 3600.0, high * seconds / 3600.0
    if hourly < low:
        p = poisson_cdf(count, lam_low)
        if p < SIGNIFICANCE:
            return "bad", f"below {low:g}/h ({count:.0f} seen where the bound expects {lam_low:.1f}, p={p:.3f})"
        if count == 0:
            need = 3.0 * 3600.0 / low if low > 0 else math.inf
            return (
                "unsure",
                f"0 seen; at {low:g}/h only {lam_low:.1f} are expected in {human(seconds)}, need a window of {human(need)}",
            )
        return "ok", f"below {low:g}/h but within chance (p={p:.2f})"
    if hourly > high:
        p = 1.0 - poisson_cdf(count - 1, lam_high)
        if p < SIGNIFICANCE:
            return "bad", f"above {high:g}/h ({count:.0f} seen where the bound expects {lam_high:.1f})"
        return "ok", f"above {high:g}/h but within chance (p={p:.2f})"
    return "ok", f"within {low:g}-{high:g}/h"
