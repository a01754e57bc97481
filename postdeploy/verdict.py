"""The verdict of a run: success, issues or rollback, decided from outcomes and severities.

- rollback: a critical check failed (the guide's rollback criteria: error rate above
  10 %, critical functionality broken);
- issues: a major check failed, a check could not run, or a metric was inconclusive
  where the environment counts that as an issue;
- issues too: a manual item still waits for a person's attestation;
- success: nothing of the above. Minor checks are recorded and never decide.
A check that had to retry (the target rate-limited it) makes the run "issues" at least.
A check that failed only because the service's rate limiter refused it (kind "throttled")
is at most major: throttling alone never means rollback.
Skipped checks decide nothing; they are listed with their reason so nobody mistakes
"not run" for "passed".
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

SEVERITIES = ("critical", "major", "minor")
VERDICTS = ("success", "issues", "rollback")


def decide(checks: Iterable[dict[str, Any]], *, inconclusive_is_issue: bool = True) -> tuple[str, list[str]]:
    """Return the verdict and the reasons for it from check entries of a record."""
    verdict, reasons = "success", []
    for c in checks:
        outcome, sev = c.get("outcome"), c.get("severity", "major")
        if outcome in ("failed", "error"):
            if sev == "critical":
                verdict = "rollback"
                reasons.append(f"critical check {c['id']} {outcome}")
            elif sev == "major":
                verdict = "issues" if verdict == "success" else verdict
                why = ": throttled by the service's rate limiter" if c.get("kind") == "throttled" else ""
                reasons.append(f"major check {c['id']} {outcome}{why}")
        elif outcome == "inconclusive" and inconclusive_is_issue and sev != "minor":
            verdict = "issues" if verdict == "success" else verdict
            reasons.append(f"check {c['id']} inconclusive")
        if (c.get("attestation") or {}).get("status") == "pending":
            # A manual item nobody attested yet: never a success (attest.py).
            verdict = "issues" if verdict == "success" else verdict
            reasons.append(f"attestation pending: {c['id']}")
        if c.get("retries"):
            verdict = "issues" if verdict == "success" else verdict
            reasons.append(
                f"check {c['id']} was retried (rate limited or a reset connection): {'; '.join(c['retries'])}"
            )
    return verdict, reasons
