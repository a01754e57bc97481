"""Log analysis: errors in the last hour (item 20) and the top error patterns of a day (item 26).

Item 20's window is the last hour, starting no earlier than the deploy (the old release's
errors are not the new one's); item 26 looks at the whole last day. A source that cannot
be read is a failure saying why; a window with no line at all is inconclusive, never a
clean bill of health.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from postdeploy.checks.advice import advice
from postdeploy.config import LogChecks
from postdeploy.core.errors import TargetError
from postdeploy.core.redaction import redact
from postdeploy.core.results import Result, failed, inconclusive, passed, unreachable
from postdeploy.sources.logpatterns import count_patterns, is_error, top_patterns
from postdeploy.sources.logsource import LogLine, LogSource


def window_start(now: datetime, window: float, deployed_at: datetime | None) -> tuple[datetime, str]:
    """Return where the window starts and how to say it: `window` ago, or the deploy if later."""
    start = now - timedelta(seconds=window)
    if deployed_at is not None and deployed_at > start:
        return deployed_at, f"since the deploy at {deployed_at:%Y-%m-%d %H:%M:%S} UTC"
    return start, f"last {window:g}s (since {start:%Y-%m-%d %H:%M:%S} UTC)"


def _read(source: LogSource, start: datetime) -> list[LogLine]:
    return source.read(start)


def _read_window(
    source: LogSource, window: float, deployed_at: datetime | None, check_id: str
) -> tuple[list[LogLine] | Result, str, dict[str, Any]]:
    """Read the window's lines, with how the window is said and the evidence so far.

    In place of the lines, the failed Result of `check_id` when the logs cannot be read.
    """
    start, said = window_start(datetime.now(UTC), window, deployed_at)
    evidence: dict[str, Any] = {"source": source.describe(), "window": said}
    try:
        lines = _read(source, start)
    except TargetError as exc:
        return unreachable(f"cannot read the logs: {exc}", evidence=evidence, advice=advice(check_id)), said, evidence
    evidence["lines read"] = str(len(lines))
    return lines, said, evidence


def _attach_top(evidence: dict[str, Any], errors: list[LogLine], n: int) -> list[tuple[str, int]]:
    top = top_patterns(errors, n)
    for i, (pattern, count) in enumerate(top, 1):
        evidence[f"pattern {i}"] = f"{count} x {redact(pattern)}"
    return top


def errors(source: LogSource, deployed_at: datetime | None, cfg: LogChecks) -> Result:
    """Item 20: error lines in the window below the bound; the guide's patterns counted; top patterns attached."""
    lines, said, evidence = _read_window(source, cfg.window, deployed_at, "logs.errors")
    if isinstance(lines, Result):
        return lines
    if not lines:
        return inconclusive(
            f"inconclusive: no log line at all {said}: is this the right log source, is the app logging?",
            evidence=evidence,
        )
    bad = [ln for ln in lines if is_error(ln)]
    counted = count_patterns(lines, cfg.patterns)
    evidence["guide patterns"] = ", ".join(f"{p!r}: {c}" for p, c in counted.items()) or "none configured"
    top = _attach_top(evidence, bad, cfg.top)
    shown = f"{len(bad)} error line(s) {said} (of {len(lines)})"
    if len(bad) > cfg.errors_max:
        head = f"; most frequent: {top[0][1]} x {redact(top[0][0][:120])}" if top else ""
        return failed(
            f"{shown}, above the bound {cfg.errors_max}; {evidence['guide patterns']}{head}",
            value=len(bad),
            threshold=f"<= {cfg.errors_max}",
            evidence=evidence,
            advice=advice("logs.errors"),
        )
    return passed(
        f"{shown}, within {cfg.errors_max}; {evidence['guide patterns']}",
        value=len(bad),
        threshold=f"<= {cfg.errors_max}",
        evidence=evidence,
    )


def patterns(source: LogSource, cfg: LogChecks) -> Result:
    """Item 26: the top error patterns of the last day attached; their total below a bound."""
    lines, said, evidence = _read_window(source, cfg.patterns_window, None, "logs.patterns")
    if isinstance(lines, Result):
        return lines
    if not lines:
        return inconclusive(f"inconclusive: no log line at all {said}", evidence=evidence)
    bad = [ln for ln in lines if is_error(ln)]
    top = _attach_top(evidence, bad, cfg.top)
    shown = f"{len(bad)} error line(s) in {len(top)} pattern(s) {said}"
    if len(bad) > cfg.patterns_max:
        return failed(
            f"{shown}, above the bound {cfg.patterns_max}; most frequent: {top[0][1]} x {redact(top[0][0][:120])}",
            value=len(bad),
            threshold=f"<= {cfg.patterns_max}",
            evidence=evidence,
            advice=advice("logs.patterns"),
        )
    return passed(
        f"{shown}, within {cfg.patterns_max}", value=len(bad), threshold=f"<= {cfg.patterns_max}", evidence=evidence
    )
