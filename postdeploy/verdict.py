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

The reasons lead with the root causes: the checks that others were blocked by come first,
then the other failures, then one line per root naming what it blocked.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from postdeploy import results

# Every outcome a check can have in a record. "blocked": a dependency failed (see gates.py),
# the check was not judged on its own; "error": it crashed in setup or teardown.
OUTCOMES = ("passed", "failed", "error", "inconclusive", "blocked", "skipped")
# A skip for want of configuration: its kind, and the prefix of its summary (results.not_configured).
NOT_CONFIGURED_KIND = results.NOT_CONFIGURED
NOT_CONFIGURED = results.NOT_CONFIGURED_PREFIX


def _worse(verdict: str, than: str) -> str:
    order = ("success", "issues", "rollback")
    return verdict if order.index(verdict) >= order.index(than) else than


def _short(text: Any, limit: int = 200) -> str:
    line = " ".join(str(text or "").split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def decide(checks: Iterable[dict[str, Any]], *, inconclusive_is_issue: bool = True) -> tuple[str, list[str]]:
    """Return the verdict and the reasons for it from check entries of a record."""
    checks = list(checks)
    roots = {str(c.get("blocked_by")) for c in checks if c.get("outcome") == "blocked" and c.get("blocked_by")}
    verdict = "success"
    first: list[str] = []
    reasons: list[str] = []
    later: list[str] = []
    blocked: dict[str, list[str]] = {}
    for c in checks:
        outcome, sev, cid = c.get("outcome"), c.get("severity", "major"), c.get("id")
        summary = f": {_short(c['summary'])}" if c.get("summary") else ""
        if outcome in ("failed", "error"):
            if sev == "critical":
                verdict = "rollback"
                (first if cid in roots else reasons).append(f"critical check {cid} {outcome}{summary}")
            elif sev == "major":
                verdict = _worse(verdict, "issues")
                why = summary
                if c.get("kind") == "throttled" and "throttled" not in why:
                    why = f": throttled by the service's rate limiter{summary}"
                (first if cid in roots else reasons).append(f"major check {cid} {outcome}{why}")
        elif outcome == "blocked":
            if sev != "minor":
                verdict = _worse(verdict, "issues")
            blocked.setdefault(str(c.get("blocked_by") or "?"), []).append(str(cid))
        elif outcome == "inconclusive" and inconclusive_is_issue and sev != "minor":
            verdict = _worse(verdict, "issues")
            reasons.append(f"check {cid} inconclusive{summary}")
        elif outcome == "skipped" and sev == "critical" and c.get("kind") == NOT_CONFIGURED_KIND:
            verdict = _worse(verdict, "issues")
            reasons.append(f"critical check {cid} not run: {str(c['summary']).removeprefix(NOT_CONFIGURED)}")
        if (c.get("attestation") or {}).get("status") == "pending":
            # A manual item nobody attested yet: never a success (attest.py).
            verdict = _worse(verdict, "issues")
            later.append(f"attestation pending: {cid}")
        if c.get("retries"):
            verdict = _worse(verdict, "issues")
            later.append(f"check {cid} was retried (rate limited or a reset connection): {'; '.join(c['retries'])}")
    for root, ids in blocked.items():
        later.append(f"{len(ids)} check(s) blocked by {root}: {', '.join(ids)}")
    return verdict, first + reasons + later


def blocked_count(checks: Iterable[dict[str, Any]]) -> int:
    return sum(1 for c in checks if c.get("outcome") == "blocked")
