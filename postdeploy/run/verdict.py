"""The verdict of a run: success, issues, rollback or incomplete, decided from outcomes and severities.

- rollback: a critical check failed (the guide's rollback criteria: error rate above
  10 %, critical functionality broken);
- issues: a major check failed, a check could not run, or a metric was inconclusive
  where the environment counts that as an issue;
- issues too: a manual item still waits for a person's attestation;
- issues too: a critical check that could not run for want of configuration ("not
  configured: ..."): a deploy gate is never green on a check nobody ran;
- issues at least: a check blocked by a failed dependency (its root cause decides the rest);
- incomplete: the run judged no check at all (a usage error, a collection error, nothing
  selected, interrupted before the first check): no verdict to act on (plugin.py sets it);
- success: nothing of the above. Minor checks are recorded and never decide.
A check that had to retry (the target rate-limited it) makes the run "issues" at least.
A check that failed only because the service's rate limiter refused it (kind "throttled")
is at most major: throttling alone never means rollback.
Skipped checks that merely do not apply decide nothing; they are listed with their reason
so nobody mistakes "not run" for "passed".

`final_verdict` is the one place a run's verdict is decided: the checks (`decide`), then the
request budget (budget.py), a run that did not finish or judged nothing (incomplete, scope.py)
and collection errors. The plugin feeds it; nothing changes the verdict afterwards.

The reasons lead with the root causes: the checks that others were blocked by come first,
then the other failures, then one line per root naming what it blocked.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from postdeploy.core import results
from postdeploy.run.runmodel import CheckEntry, Outcome, Verdict, entries, worst

# Every outcome a check can have in a record (runmodel.Outcome).
OUTCOMES = tuple(str(o) for o in Outcome)
# A skip for want of configuration: its kind, and the prefix of its summary (results.not_configured).
NOT_CONFIGURED_KIND = results.NOT_CONFIGURED
NOT_CONFIGURED = results.NOT_CONFIGURED_PREFIX


def _short(text: Any, limit: int = 200) -> str:
    line = " ".join(str(text or "").split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


@dataclass
class _Reasons:
    """The reasons of a verdict in the order they are given: root causes, the rest, then notes."""

    first: list[str]
    reasons: list[str]
    later: list[str]
    verdict: Verdict = Verdict.SUCCESS

    def raise_to(self, verdict: Verdict) -> None:
        self.verdict = worst((self.verdict, verdict), verdict)


def _failure(c: CheckEntry, roots: set[str], out: _Reasons) -> None:
    summary = f": {_short(c.summary)}" if c.summary else ""
    where = out.first if c.id in roots else out.reasons
    if c.severity == "critical":
        out.raise_to(Verdict.ROLLBACK)
        where.append(f"critical check {c.id} {c.outcome}{summary}")
    elif c.severity == "major":
        out.raise_to(Verdict.ISSUES)
        why = summary
        if c.kind == results.THROTTLED and "throttled" not in why:
            why = f": throttled by the service's rate limiter{summary}"
        where.append(f"major check {c.id} {c.outcome}{why}")


def _judge(
    c: CheckEntry, roots: set[str], out: _Reasons, blocked: dict[str, list[str]], inconclusive_is_issue: bool
) -> None:
    if c.outcome in (Outcome.FAILED, Outcome.ERROR):
        _failure(c, roots, out)
    elif c.outcome is Outcome.BLOCKED:
        if c.severity != "minor":
            out.raise_to(Verdict.ISSUES)
        blocked.setdefault(c.blocked_by or "?", []).append(c.id)
    elif c.outcome is Outcome.INCONCLUSIVE and inconclusive_is_issue and c.severity != "minor":
        out.raise_to(Verdict.ISSUES)
        out.reasons.append(f"check {c.id} inconclusive{f': {_short(c.summary)}' if c.summary else ''}")
    elif c.outcome is Outcome.SKIPPED and c.severity == "critical" and c.kind == NOT_CONFIGURED_KIND:
        out.raise_to(Verdict.ISSUES)
        out.reasons.append(f"critical check {c.id} not run: {c.summary.removeprefix(NOT_CONFIGURED)}")
    if c.outcome is Outcome.PENDING or c.attestation_status == "pending":
        # A manual item nobody attested yet: never a success (attest.py).
        out.raise_to(Verdict.ISSUES)
        out.later.append(f"attestation pending: {c.id}")
    if c.retries:
        out.raise_to(Verdict.ISSUES)
        out.later.append(f"check {c.id} was retried (rate limited or a reset connection): {'; '.join(c.retries)}")


def decide(
    checks: Iterable[CheckEntry | Mapping[str, Any]], *, inconclusive_is_issue: bool = True
) -> tuple[str, list[str]]:
    """Return the verdict and the reasons for it from the check entries of a record (its checks only)."""
    typed = entries(checks)
    roots = {c.blocked_by for c in typed if c.outcome is Outcome.BLOCKED and c.blocked_by}
    out = _Reasons([], [], [])
    blocked: dict[str, list[str]] = {}
    for c in typed:
        _judge(c, roots, out, blocked, inconclusive_is_issue)
    for root, ids in blocked.items():
        out.later.append(f"{len(ids)} check(s) blocked by {root}: {', '.join(ids)}")
    return str(out.verdict), out.first + out.reasons + out.later


@dataclass
class Decision:
    """A run's verdict, its reasons, and, for an incomplete run, what the checks alone said."""

    verdict: Verdict
    reasons: list[str]
    so_far: Verdict | None = None


def final_verdict(
    checks: Sequence[CheckEntry | Mapping[str, Any]],
    *,
    inconclusive_is_issue: bool = True,
    budget: Mapping[str, Any] | None = None,
    finished: bool = True,
    incomplete: str = "",
    collect_errors: Sequence[str] = (),
) -> Decision:
    """The one place a run's verdict is decided; every input of it is an argument.

    - `checks`: the record's check entries (`decide`; pending attestations included);
    - `budget`: the request budget's use (budget.usage): exceeded makes it issues at least;
    - `finished`: False while the run goes on (a killed run leaves that): incomplete;
    - `incomplete`: why the run has no verdict (scope.incomplete_reason), "" when it has one;
    - `collect_errors`: test files that could not be collected: issues at least.
    """
    typed = entries(checks)
    verdict, reasons = decide(typed, inconclusive_is_issue=inconclusive_is_issue)
    so_far = Verdict(verdict)
    if budget and budget.get("exceeded"):
        reasons.append(
            f"request budget exceeded: {budget['sent']} API requests sent in phase {budget['phase']}, "
            f"budget {budget['limit']} ([budget] in the environment file)"
        )
        so_far = worst((so_far, Verdict.ISSUES), so_far)
    if not finished:
        return Decision(Verdict.INCOMPLETE, reasons, so_far)
    if incomplete:
        judged = any(c.outcome is not None and c.outcome.judged for c in typed)
        return Decision(Verdict.INCOMPLETE, [incomplete, *(reasons if judged else [])], so_far)
    if collect_errors:
        so_far = worst((so_far, Verdict.ISSUES), so_far)
        reasons.append(f"collection errors, their checks did not run: {'; '.join(collect_errors[:3])}")
    return Decision(so_far, reasons)


def blocked_count(checks: Iterable[CheckEntry | Mapping[str, Any]]) -> int:
    return sum(1 for c in entries(checks) if c.outcome is Outcome.BLOCKED)
