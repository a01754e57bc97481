"""Check results: what was measured, against what, and what to do when it is wrong."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

# What a check function can return (runmodel.Outcome has every outcome a record holds):
# "skipped": the check does not apply to this target (the summary says what to configure).
Outcome = Literal["passed", "failed", "inconclusive", "skipped"]


@dataclass
class Result:
    """The outcome of one check with its evidence; `message()` is what a failure says."""

    outcome: Outcome
    summary: str
    value: Any = None
    threshold: Any = None
    evidence: dict[str, Any] = field(default_factory=dict)
    advice: str = ""
    # A result may raise its check's severity (an error rate above the rollback bound).
    severity: str | None = None
    # Structured data a later run reads back from record.json (a pre-deployment baseline).
    data: dict[str, Any] | None = None
    # What kind of outcome this is beyond pass/fail: "throttled" (the service's rate limiter, not
    # the release), "not_configured" (skipped for want of configuration).
    kind: str = ""

    @property
    def ok(self) -> bool:
        return self.outcome == "passed"

    def message(self) -> str:
        lines = [f"{self.outcome.upper()}: {self.summary}"]
        if self.threshold is not None:
            lines.append(f"  measured: {self.value}   threshold: {self.threshold}")
        for key, val in self.evidence.items():
            lines.append(f"  {key}: {val}")
        if self.advice and not self.ok:
            lines.append(f"  next: {self.advice}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<Result {self.outcome}: {self.summary}>"


def passed(summary: str, **kw: Any) -> Result:
    return Result("passed", summary, **kw)


def failed(summary: str, **kw: Any) -> Result:
    return Result("failed", summary, **kw)


def inconclusive(summary: str, **kw: Any) -> Result:
    return Result("inconclusive", summary, **kw)


def skipped(summary: str, **kw: Any) -> Result:
    return Result("skipped", summary, **kw)


# The kinds of outcome beyond pass/fail, structured (the verdict and Allure's categories read them,
# never the summary's text):
# a skip for want of configuration (its summary starts with NOT_CONFIGURED_PREFIX);
NOT_CONFIGURED = "not_configured"
NOT_CONFIGURED_PREFIX = "not configured: "
# a failure that is the service's rate limiter refusing the check (throttle.py), not the release;
THROTTLED = "throttled"
# a target that could not be asked: unreachable, hanging or answering garbage (a TargetError);
UNREACHABLE = "unreachable"
# a check not judged because a check it depends on failed (gates.py).
BLOCKED = "blocked"
KINDS = (NOT_CONFIGURED, THROTTLED, UNREACHABLE, BLOCKED)


def not_configured(what: str, **kw: Any) -> Result:
    """Skipped for want of configuration: "not configured: <what to add, and where>"."""
    return Result("skipped", NOT_CONFIGURED_PREFIX + what, kind=NOT_CONFIGURED, **kw)


def unreachable(summary: str, **kw: Any) -> Result:
    """Failed because a target could not be asked (a `TargetError`): kind "unreachable"."""
    return Result("failed", summary, kind=UNREACHABLE, **kw)


def from_problems(problems: list[str], what: str, ok: str, *, evidence: dict[str, Any], advice: str) -> Result:
    """Fail with every problem found (counted, 0 allowed), or pass with `ok`."""
    if problems:
        return failed(
            f"{what}: " + "; ".join(problems), value=len(problems), threshold=0, evidence=evidence, advice=advice
        )
    return passed(ok, value=0, threshold=0, evidence=evidence)
