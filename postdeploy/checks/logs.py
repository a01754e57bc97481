"""Log checks since the deploy: the startup lines are there, and no ERROR or CRITICAL line."""

from __future__ import annotations

import re
from datetime import datetime

from postdeploy.checks.advice import advice
from postdeploy.core.errors import TargetError
from postdeploy.core.redaction import redact
from postdeploy.core.results import Result, failed, passed, unreachable
from postdeploy.sources.logsource import LogLine, LogSource

STARTUP_LINES = ("Starting Amani Escrow Backend...", "Database initialized successfully")
BAD_LEVELS = ("ERROR", "CRITICAL")
SHOWN = 10


def _since_text(when: datetime | None) -> str:
    return f"since {when:%Y-%m-%d %H:%M:%S} UTC (deploy)" if when else "in the whole log (deploy time unknown)"


def startup(source: LogSource, deployed_at: datetime | None, expected: tuple[str, ...] = STARTUP_LINES) -> Result:
    """Every expected startup message appears in the log since the deploy."""
    evidence = {"source": source.describe(), "window": _since_text(deployed_at)}
    try:
        lines = source.read(deployed_at)
    except TargetError as exc:
        return unreachable(f"cannot read the logs: {exc}", evidence=evidence, advice=advice("logs.startup"))
    missing = [msg for msg in expected if not any(msg in ln.message for ln in lines)]
    evidence["lines read"] = str(len(lines))
    if missing:
        errors = [redact(repr(ln)) for ln in lines if ln.level in BAD_LEVELS][:3]
        if errors:
            evidence["errors logged"] = " | ".join(errors)
        return failed(
            "startup line(s) missing " + _since_text(deployed_at) + ": " + ", ".join(repr(m) for m in missing),
            value=f"{len(expected) - len(missing)} of {len(expected)} present",
            threshold="all present",
            evidence=evidence,
            advice=advice("logs.startup"),
        )
    return passed(f"all {len(expected)} startup lines present", evidence=evidence)


def limiter_lines(lines: list[LogLine], patterns: list[str]) -> set[int]:
    """Indexes of the ERROR/CRITICAL lines a rate limiter wrote: the line, or the traceback
    lines under it (lines without a level), matches a declared throttle log pattern."""
    if not patterns:
        return set()
    compiled = [re.compile(p) for p in patterns]
    found: set[int] = set()
    for i, ln in enumerate(lines):
        if ln.level not in BAD_LEVELS:
            continue
        block = [ln]
        for nxt in lines[i + 1 : i + 40]:
            if nxt.level is not None:
                break
            block.append(nxt)
        if any(p.search(b.raw) for p in compiled for b in block):
            found.add(i)
    return found


def clean(source: LogSource, deployed_at: datetime | None, limiter: list[str] | None = None) -> Result:
    """No line at ERROR or CRITICAL level since the deploy (JSON or plain-text logs).

    Lines of the service's own rate limiter (`limiter`: the log patterns of [[api.throttle]])
    are not errors of the release: they are counted apart and said, never hidden.
    """
    evidence = {"source": source.describe(), "window": _since_text(deployed_at)}
    try:
        lines = source.read(deployed_at)
    except TargetError as exc:
        return unreachable(f"cannot read the logs: {exc}", evidence=evidence, advice=advice("logs.clean"))
    throttled = limiter_lines(lines, list(limiter or []))
    bad = [ln for i, ln in enumerate(lines) if ln.level in BAD_LEVELS and i not in throttled]
    evidence["lines read"] = str(len(lines))
    note = ""
    if throttled:
        first = lines[min(throttled)]
        note = (
            f"; {len(throttled)} line(s) of the service's rate limiter not counted (throttled: "
            f"{' | '.join(limiter or [])!r}, [[api.throttle]] log)"
        )
        evidence["rate limiter lines"] = (
            f"{len(throttled)} ERROR line(s) matching the declared throttle log pattern, not counted as errors:"
            f" the service was throttling requests; first: {redact(repr(first))}"
        )
    if not lines:
        evidence["note"] = "no line since the deploy: is this the right log source?"
    if bad:
        for i, ln in enumerate(bad[:SHOWN], 1):
            evidence[f"line {i}"] = redact(repr(ln))
        return failed(
            f"{len(bad)} ERROR/CRITICAL line(s) {_since_text(deployed_at)}; first: {redact(bad[0].message[:160])}{note}",
            value=len(bad),
            threshold=0,
            evidence=evidence,
            advice=advice("logs.clean"),
        )
    return passed(f"no ERROR/CRITICAL line among {len(lines)} lines{note}", value=0, threshold=0, evidence=evidence)
