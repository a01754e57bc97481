"""The pytest channel: what a check says about itself, from the test to the record.

A check runs in any process (an xdist worker); the record is kept in the controller. What a
check says (its markers, its judged result, a kind, the requests it sent, an attestation)
travels in `report.user_properties` as `(KEY, JSON)` pairs: `say` writes one, `messages` and
`heard` read them back, `said_by` turns a test report into what the record merges
(runmodel.CheckEntry.merge). Nothing else reads or writes that key.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from postdeploy.run.runmodel import Outcome

KEY = "postdeploy"


class HasProperties(Protocol):
    user_properties: list[tuple[str, object]]


def encode(fields: Mapping[str, Any]) -> tuple[str, str]:
    """One message of the channel: JSON, so that it crosses from an xdist worker unchanged."""
    return (KEY, json.dumps(dict(fields), default=str))


def say(to: HasProperties, **fields: Any) -> None:
    """Add a message to a test item or report (`say(item, requests=3)`)."""
    to.user_properties.append(encode(fields))


def messages(user_properties: Iterable[tuple[str, object]]) -> list[dict[str, Any]]:
    """Every message of the channel among user properties, in the order said."""
    return [json.loads(str(value)) for name, value in user_properties if name == KEY]


def heard(user_properties: Iterable[tuple[str, object]]) -> dict[str, Any]:
    """Every message merged into one, a later one winning."""
    out: dict[str, Any] = {}
    for message in messages(user_properties):
        out.update(message)
    return out


def judged(user_properties: Iterable[tuple[str, object]]) -> dict[str, Any] | None:
    """The check's judged result (`Check.judge`), if it was judged."""
    return next((m for m in messages(user_properties) if "outcome" in m), None)


class Report(Protocol):
    """The parts of pytest's TestReport read here."""

    @property
    def when(self) -> str: ...
    @property
    def outcome(self) -> str: ...
    @property
    def duration(self) -> float: ...
    @property
    def longrepr(self) -> Any: ...
    @property
    def longreprtext(self) -> str: ...
    @property
    def user_properties(self) -> list[tuple[str, object]]: ...


def said_by(report: Report, requests_before: int) -> dict[str, Any] | None:
    """What one report phase says about a check, for the record; None when the test is not a check."""
    props = heard(report.user_properties)
    meta = props.pop("meta", None)
    if meta is None:
        return None
    entry: dict[str, Any] = {**meta, **props}
    entry["requests"] = requests_before + int(props.get("requests", 0))
    if report.when == "call" or report.outcome != "passed":
        entry["outcome"] = str(outcome_of(report, props))
        entry["duration_s"] = round(report.duration, 3)
        if report.outcome == "skipped" and "summary" not in props:
            entry["summary"] = skip_reason(report)
        elif report.outcome == "failed" and "summary" not in props:
            entry["summary"] = last_line(report.longreprtext)
    return entry


def outcome_of(report: Report, props: Mapping[str, Any]) -> Outcome:
    """A check's outcome from pytest's (passed, failed, skipped) and what the check said."""
    said = props.get("outcome")
    if report.outcome == "passed":
        return Outcome.PASSED
    if report.outcome == "skipped":
        if said in (Outcome.INCONCLUSIVE, Outcome.BLOCKED):
            return Outcome(said)
        pending = (props.get("attestation") or {}).get("status") == "pending"
        return Outcome.PENDING if pending else Outcome.SKIPPED
    if said in (Outcome.FAILED, Outcome.INCONCLUSIVE):
        return Outcome(said)
    return Outcome.ERROR if report.when != "call" else Outcome.FAILED


def skip_reason(report: Report) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


def last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1][:300] if lines else ""
