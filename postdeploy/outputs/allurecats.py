"""Allure's categories from the record's structured outcomes, not from the words of a message.

An on-call engineer first wants to know whether the target could not be asked, or answered
and was wrong. Each check of the record has an outcome and a kind (runmodel.CheckEntry); at
the end of the run every Allure result of a check gets one tag line in its trace,
`[postdeploy category: <key>]`, and categories.json sorts by that tag alone.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from postdeploy.core import results
from postdeploy.run.runmodel import CheckEntry, Outcome

TAG = "[postdeploy category: {}]"
# key -> (category name, Allure statuses it matches); in the order Allure shows them.
CATEGORIES: dict[str, tuple[str, list[str]]] = {
    results.UNREACHABLE: ("Target unreachable or hanging", ["failed", "broken"]),
    str(Outcome.INCONCLUSIVE): ("Inconclusive (too little data)", ["failed", "skipped"]),
    str(Outcome.BLOCKED): ("Blocked by a failed dependency", ["failed", "broken", "skipped"]),
    results.THROTTLED: ("Throttled by the service's rate limiter", ["failed", "broken"]),
    str(Outcome.FAILED): ("Threshold breached", ["failed"]),
    results.NOT_CONFIGURED: ("Not configured", ["skipped"]),
    str(Outcome.PENDING): ("Pending attestation", ["skipped"]),
}


def category(entry: CheckEntry) -> str | None:
    """The category key of a check: its outcome when that says it all, else its kind; None for none."""
    if entry.outcome in (Outcome.BLOCKED, Outcome.PENDING, Outcome.INCONCLUSIVE):
        return str(entry.outcome)
    if entry.kind in CATEGORIES:
        return entry.kind
    return str(entry.outcome) if entry.outcome is Outcome.FAILED else None


def categories_json() -> list[dict[str, Any]]:
    """categories.json: one category per key, matched on the tag in the trace."""
    return [
        {"name": name, "matchedStatuses": statuses, "traceRegex": rf"(?s).*\[postdeploy category: {key}\].*"}
        for key, (name, statuses) in CATEGORIES.items()
    ]


def _allure_key(nodeid: str) -> tuple[str, str]:
    """(fullName, name) of the Allure result of a test: `a/b.py::test_x[p]` -> (`a.b#test_x`, `test_x[p]`)."""
    path, _, rest = nodeid.partition("::")
    parts = rest.split("::")
    module = path.removesuffix(".py").replace("/", ".")
    full = ".".join([module, *parts[:-1]]) + "#" + parts[-1].split("[")[0]
    return full, parts[-1]


def tag_results(folder: Path, checks: Iterable[CheckEntry]) -> int:
    """Tag the Allure result of every check that has a category; return how many were tagged."""
    keys = {_allure_key(c.nodeid): key for c in checks if (key := category(c)) is not None}
    tagged = 0
    for path in folder.glob("*-result.json"):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        key = keys.get((str(data.get("fullName", "")), str(data.get("name", ""))))
        if key is None:
            continue
        details = data.setdefault("statusDetails", {})
        tag = TAG.format(key)
        if tag not in str(details.get("trace", "")):
            details["trace"] = f"{details.get('trace') or ''}\n{tag}".lstrip("\n")
            path.write_text(json.dumps(data), encoding="utf-8")
        tagged += 1
    return tagged


def write(folder: Path, checks: Iterable[CheckEntry]) -> None:
    """Tag the results and write categories.json into an allure-results folder."""
    tag_results(folder, checks)
    (folder / "categories.json").write_text(json.dumps(categories_json(), indent=2), encoding="utf-8")
