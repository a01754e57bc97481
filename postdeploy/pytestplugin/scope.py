"""What a run covered: the checks of its phase it selected, ran and judged, and why it judged none.

A run that judged no check of its phase (a usage error, a collection error, nothing
selected, every check skipped, interrupted before the first check) has no verdict: its
record says `incomplete` with a reason quoting pytest's own message, and `latest` and the
timeline keep pointing at the last run with a real verdict. A run whose phase had checks
deselected says how many it ran ("9 of 19 first15 checks: -k was given").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from postdeploy.pytestplugin import markers
from postdeploy.run.runmodel import CheckEntry, entries

NO_CHECK = "no check ran"


@dataclass
class Scope:
    """Collected in the controller by the plugin's collection hooks."""

    selected: int | None = None  # checks of the phase left after selection (None: collection never finished)
    deselected: int = 0  # checks of the phase that -k / --deselect / -m dropped
    collect_errors: list[str] = field(default_factory=list)
    interrupted: str = ""


def of_phase(item: pytest.Item, phase: str) -> bool:
    """True when the item is a check that belongs to the run's phase (any check for "all"/"custom")."""
    try:
        meta = markers.check_meta(item)
    except pytest.UsageError:
        return False
    if meta is None:
        return False
    return phase not in markers.PHASES or phase in list(meta["phases"])  # type: ignore[call-overload]


def _why(option: Any) -> str:
    given = []
    expr = (getattr(option, "markexpr", "") or "").strip()
    if expr and expr not in markers.PHASES:
        given.append(f"-m {expr!r}")
    if getattr(option, "keyword", ""):
        given.append("-k")
    if getattr(option, "deselect", None):
        given.append("--deselect")
    return " and ".join(given) + (" was given" if len(given) == 1 else " were given") if given else "selection"


def coverage(scope: Scope, phase: str, option: Any) -> str:
    """ "9 of 19 first15 checks: -k was given" when checks of the phase were deselected, else ""."""
    if scope.selected is None or not scope.deselected:
        return ""
    what = f"{phase} checks" if phase in markers.PHASES else "checks"
    return f"{scope.selected} of {scope.selected + scope.deselected} {what}: {_why(option)}"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def incomplete_reason(
    scope: Scope,
    checks: Sequence[CheckEntry | Mapping[str, Any]],
    *,
    exitstatus: int,
    usage_error: BaseException | None,
    phase: str,
    option: Any,
) -> str:
    """Why the run has no verdict, quoting pytest; "" when it judged checks and was not interrupted."""
    checks = entries(checks)
    judged = [c for c in checks if c.outcome is not None and c.outcome.judged]
    if scope.collect_errors and not judged:
        n = len(scope.collect_errors)
        return f'{NO_CHECK}: pytest: "Interrupted: {_plural(n, "error")} during collection" (exit {exitstatus}): {scope.collect_errors[0]}'
    if scope.interrupted:
        if judged:
            return f"the run was interrupted ({scope.interrupted}) after {_plural(len(judged), 'judged check')}: no verdict on part of a phase"
        return f"{NO_CHECK}: pytest was interrupted ({scope.interrupted}) before the first check"
    if judged:
        return ""
    if usage_error is not None:
        return f"{NO_CHECK}: pytest stopped with a usage error (exit 4): {usage_error}"
    if checks:
        skip = next((c.summary for c in checks if c.summary), "")
        return f"{NO_CHECK}: every selected check was skipped ({_plural(len(checks), 'check')}; first: {skip})"
    what = f"{phase} check" if phase in markers.PHASES else "check"
    if scope.deselected:
        why = _why(option)
        return f'{NO_CHECK}: pytest: "no tests ran": all {_plural(scope.deselected, what)} deselected ({why}, exit {exitstatus})'
    return (
        f'{NO_CHECK}: pytest: "no tests ran": no {what} was collected (exit {exitstatus}; check -m and the test paths)'
    )
