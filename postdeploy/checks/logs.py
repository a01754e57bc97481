"""Log checks since the deploy: the startup lines are there, and no ERROR or CRITICAL line."""

from __future__ import annotations

from datetime import datetime

from postdeploy.checks.advice import advice
from postdeploy.errors import TargetError
from postdeploy.logs import LogSource
from postdeploy.redaction import redact
from postdeploy.results import Result, failed, passed

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
        return failed(f"cannot read the logs: {exc}", evidence=evidence, advice=advice("logs.startup"))
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


def clean(source: LogSource, deployed_at: datetime | None) -> Result:
    """No line at ERROR or CRITICAL level since the deploy (JSON or plain-text logs)."""
    evidence = {"source": source.describe(), "window": _since_text(deployed_at)}
    try:
        lines = source.read(deployed_at)
    except TargetError as exc:
        return failed(f"cannot read the logs: {exc}", evidence=evidence, advice=advice("logs.clean"))
    bad = [ln for ln in lines if ln.level in BAD_LEVELS]
    evidence["lines read"] = str(len(lines))
    if not lines:
        evidence["note"] = "no line since the deploy: is this the right log source?"
    if bad:
        for i, ln in enumerate(bad[:SHOWN], 1):
            evidence[f"line {i}"] = redact(repr(ln))
        return failed(
            f"{len(bad)} ERROR/CRITICAL line(s) {_since_text(deployed_at)}; first: {redact(bad[0].message[:160])}",
            value=len(bad),
            threshold=0,
            evidence=evidence,
            advice=advice("logs.clean"),
        )
    return passed(f"no ERROR/CRITICAL line among {len(lines)} lines", value=0, threshold=0, evidence=evidence)
