"""A check's test evaluated again, outside pytest's run loop: what `--watch` does to the later phases.

A check's test is markers plus one call, `check.judge(windowed.resources(prom, target, ...))`.
The watch calls that test function again every interval with the run's own fixtures and a
`Recorder` in the place of `check`: the recorder keeps the result and reports nothing, so the
test stays the one place that says what the check evaluates. When the test itself runs at
the end of the watch, its judge is given the watch's final result (watchplugin.py).

A check that cannot be evaluated this way (blocked by a root check, not configured, a fixture
that skips or fails) is not watched: it runs once, as without `--watch`, and says why itself.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import pytest

from postdeploy import catalog
from postdeploy.catalog import configured
from postdeploy.config import Environment
from postdeploy.core import gates
from postdeploy.core.errors import TargetError
from postdeploy.core.redaction import redact
from postdeploy.core.results import Result, inconclusive
from postdeploy.pytestplugin import markers


def late_fixture(getfixturevalue: Callable[[str], Any], name: str) -> Any:
    """A fixture's value asked for late; one that failed (the database unreachable) raises
    TargetError with its message, a skip stays a skip (the `check` fixture's `fixture`)."""
    try:
        return getfixturevalue(name)
    except pytest.fail.Exception as exc:
        raise TargetError(str(exc)) from None


class Recorder:
    """Stands in for the `check` fixture while a watch evaluates a test again: keeps the result."""

    def __init__(self, check_id: str, getfixturevalue: Callable[[str], Any]) -> None:
        self.id = check_id
        self.getfixturevalue = getfixturevalue
        self.result: Result | None = None

    def fixture(self, name: str) -> Any:
        return late_fixture(self.getfixturevalue, name)

    def judge(self, result: Result) -> None:
        self.result = result


@dataclass
class Rerun:
    """One watched check's test, with the fixtures it is called with again."""

    check_id: str
    severity: str
    function: Callable[..., Any]
    kwargs: dict[str, Any]

    def evaluate(self, getfixturevalue: Callable[[str], Any]) -> Result:
        """The check's result now; an evaluation that could not be made is inconclusive, not fatal."""
        recorder = Recorder(self.check_id, getfixturevalue)
        try:
            self.function(**self.kwargs, check=recorder)
        except pytest.skip.Exception as exc:
            return inconclusive(f"not evaluated this time: {redact(str(exc.msg))}")
        except TargetError as exc:
            return inconclusive(f"could not be evaluated this time: {redact(str(exc))}")
        except Exception as exc:  # noqa: BLE001 - one evaluation of a long watch; the test's own run reports it
            return inconclusive(f"the evaluation raised {type(exc).__name__}: {redact(str(exc))[:300]}")
        if recorder.result is None:
            return inconclusive("the check's test judged nothing")
        # The watch decides on severities: a result that does not raise its own gets the catalog's.
        return replace(recorder.result, severity=recorder.result.severity or self.severity)


def prepare(
    item: pytest.Item, getfixturevalue: Callable[[str], Any], env: Environment, down: dict[str, tuple[str, str]]
) -> Rerun | None:
    """`item`'s test ready to be called again, or None when it cannot be watched (see the module doc)."""
    meta = markers.check_meta(item)
    function = getattr(item, "obj", None)
    if meta is None or function is None or hasattr(item, "callspec"):
        return None
    spec = catalog.get(str(meta["id"]))
    if spec is None or gates.blocker(down, meta["depends_on"]) is not None:  # type: ignore[arg-type]
        return None
    if configured.missing(env, spec.needs) is not None:
        return None
    kwargs: dict[str, Any] = {}
    for name in inspect.signature(function).parameters:
        if name == "check":
            continue
        try:
            kwargs[name] = getfixturevalue(name)
        except (pytest.skip.Exception, pytest.fail.Exception, pytest.FixtureLookupError, TargetError):
            return None
    return Rerun(spec.id, str(meta.get("severity") or spec.severity), function, kwargs)
