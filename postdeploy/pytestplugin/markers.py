"""The markers every check carries, registered by the plugin (never only in a conftest)."""

from __future__ import annotations

import pytest

from postdeploy.core.terms import PHASES, SEVERITIES

MARKERS = {
    "pre_deploy": "pre-deployment checklist (backup, changes, staging, monitoring ready)",
    "first15": "the first 15 minutes after a deploy (guide items 1-10)",
    "first_hour": "the first hour after a deploy (guide items 11-18)",
    "first_24h": "the first 24 hours, every 2-4 hours (guide items 19-24)",
    "daily": "daily, from cron (guide items 25-27)",
    "weekly": "weekly (guide items 28-30)",
    "checklist(item, check_id)": "the guide's item number (1-30, 'P1'..'P6', 'K', 'C') and the check's id",
    "severity(level)": "critical (a failure means rollback), major (issues) or minor (recorded only)",
    "writes": "the check changes the target; it runs only with --allow-writes",
    "depends_on(*gates)": "what the check needs first: process, service, login, database, prometheus; "
    "when that failed, the check is recorded 'blocked by <root check>'",
}


def register(config: pytest.Config) -> None:
    for name, help_text in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {help_text}")


def check_meta(item: pytest.Item) -> dict[str, object] | None:
    """Return id, item, severity and phases of a check, or None when the test is not a check."""
    mark = item.get_closest_marker("checklist")
    if mark is None:
        return None
    if len(mark.args) != 2:
        raise pytest.UsageError(f"{item.nodeid}: use @pytest.mark.checklist(ITEM, 'check.id')")
    sev = item.get_closest_marker("severity")
    level = sev.args[0] if sev and sev.args else None
    if level not in SEVERITIES:
        raise pytest.UsageError(f"{item.nodeid}: a check needs @pytest.mark.severity(one of {', '.join(SEVERITIES)})")
    phases = [p for p in PHASES if item.get_closest_marker(p)]
    if not phases:
        raise pytest.UsageError(f"{item.nodeid}: a check needs a phase marker ({', '.join(PHASES)})")
    from postdeploy.core import gates

    needs = [str(a) for m in item.iter_markers("depends_on") for a in m.args]
    if gates.unknown(needs):
        raise pytest.UsageError(
            f"{item.nodeid}: depends_on({', '.join(gates.unknown(needs))}): use {', '.join(gates.GATES)}"
        )
    return {
        "id": str(mark.args[1]),
        "depends_on": gates.closure(needs),
        "item": mark.args[0],
        "severity": level,
        "phases": phases,
        "writes": item.get_closest_marker("writes") is not None,
    }
