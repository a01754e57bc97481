"""The sign-off: the guide's "Monitoring Checklist Template" filled in from a record, as Markdown.

Each template line is decided by the checks that stand for it: failed if any failed,
inconclusive if any was, passed when all passed, "not run yet" when this record has
none of them (another phase covers it).
"""

from __future__ import annotations

from typing import Any

from postdeploy import catalog
from postdeploy.outputs import watchview
from postdeploy.run import budget
from postdeploy.run.attest import attested, pending
from postdeploy.run.runmodel import Outcome, entries, worst

# The guide's template, each line with the checks that stand for it (postdeploy.catalog).
TEMPLATE: dict[str, list[tuple[str, tuple[str, ...]]]] = catalog.signoff_template()
STATUS = {
    "success": "✅ Success",
    "issues": "⚠️ Issues",
    "rollback": "❌ Rollback",
    "incomplete": "… incomplete: no verdict (no check was judged, or the run did not finish)",
}
MARK = {"passed": "[x]", "failed": "[ ] FAILED", "inconclusive": "[ ] INCONCLUSIVE", "not run yet": "[ ] not run yet"}
MARK["pending attestation"] = "[ ] PENDING ATTESTATION"
MARK["blocked"] = "[ ] BLOCKED"

ROLLBACK = """\
## Rollback procedure (the guide's)

Previous good release: **{previous}**

```bash
# 1. Stop current deployment
docker-compose stop app
# 2. Checkout previous version
git checkout {commit}
# 3. Rebuild and restart
docker-compose build app
docker-compose up -d app
# 4. Verify
curl {health}
# 5. If database changes, restore backup
./scripts/restore_database.sh backups/pre_deployment_backup.sql.gz
```
"""


def line_outcome(checks: list[dict[str, Any]], ids: tuple[str, ...]) -> tuple[str, list[str]]:
    """Return a template line's outcome and the checks that decided it: the worst of them wins."""
    mine = [c for c in entries(checks) if c.id in ids and c.outcome is not None and c.outcome.judged]
    waiting = [c for c in pending(checks) if c.get("id") in ids]
    if waiting and not mine:
        return "pending attestation", [f"{c['id']} pending attestation" for c in waiting]
    if not mine:
        return "not run yet", []
    names = [f"{c.id} {c.outcome}" for c in mine]
    found = worst((c.outcome for c in mine if c.outcome is not None), Outcome.PASSED)
    if found in (Outcome.FAILED, Outcome.ERROR):
        return "failed", names
    if found in (Outcome.BLOCKED, Outcome.INCONCLUSIVE):
        return str(found), names
    if waiting:
        # A line of automated and manual checks is not done while a person has not attested.
        return "pending attestation", names + [f"{c['id']} pending attestation" for c in waiting]
    return "passed", names


def render(record: dict[str, Any], previous: dict[str, Any] | None = None) -> str:
    """Return the sign-off of one record as Markdown; `previous` is the last good record for a rollback."""
    checks = record.get("checks", [])
    out = [
        f"# Deployment record: {record.get('env')} {record.get('version') or '?'} ({record.get('phase')})",
        "",
        f"Commit {record.get('commit') or '?'}; run {record.get('start')} to {record.get('end')} by {record.get('who')}.",
        "",
    ]
    verdict = record.get("verdict", "incomplete")
    reasons = record.get("verdict_reasons") or []
    # The verdict and its first reason (the root cause) lead; the template follows.
    out += [f"**Verdict: {STATUS.get(verdict, verdict)}**", ""]
    if reasons:
        out += [f"First reason: {reasons[0]}", ""]
    if record.get("coverage"):
        out += [f"Covered: {record['coverage']}", ""]
    if record.get("budget"):
        out += [budget.line(record), ""]
    if (record.get("reports") or {}).get("timeline") and record.get("judged", True):
        link = record["reports"]["timeline"]
        out += [f"Every phase of this deployment: [{link}]({link})", ""]
    for section, lines in TEMPLATE.items():
        out.append(f"## {section}")
        for label, ids in lines:
            outcome, names = line_outcome(checks, ids)
            detail = f" ({', '.join(names)})" if names else ""
            out.append(f"- {MARK[outcome]} {label}{detail}")
        out.append("")
    out += attestation_lines(checks)
    out += watchview.markdown(record.get("watch"))
    failed = [c for c in checks if c.get("outcome") in ("failed", "error", "inconclusive")]
    out += [
        "## Sign-off",
        f"- Deployment completed by: {record.get('who')}",
        f"- Date/Time: {record.get('end') or record.get('start')}",
        "- Issues encountered: " + ("none" if not failed else ""),
        *[f"  - {c.get('id')}: {c.get('summary', '')}" for c in failed],
        "- Actions taken: " + ("; ".join(reasons) if reasons else "none needed"),
        *[
            f"  - {c.get('id')} attested by {c['attestation'].get('who')}: {c['attestation'].get('note')}"
            for c in attested(checks)
        ],
        f"- Status: {STATUS.get(verdict, verdict)}",
        "",
    ]
    if verdict == "rollback":
        prev = previous or {}
        version = prev.get("version") or "unknown: no earlier successful record of this environment"
        out.append(
            ROLLBACK.format(
                previous=f"{version} (commit {prev.get('commit') or '?'})",
                commit=prev.get("commit") or "<previous-commit>",
                health=(record.get("targets", {}).get("api", "") + "/api/v1/health"),
            )
        )
    return "\n".join(out)


def attestation_lines(checks: list[dict[str, Any]]) -> list[str]:
    """The manual items of the record: pending ones (the verdict cannot be success) and attested ones."""
    waiting, done = pending(checks), attested(checks)
    if not waiting and not done:
        return []
    out = ["## Manual items"]
    out += [f"- [ ] pending attestation: {c.get('id')}: {c['attestation'].get('what', '')}" for c in waiting]
    out += [
        f"- [x] {c.get('id')}: attested by {c['attestation'].get('who')}: {c['attestation'].get('note')}" for c in done
    ]
    return [*out, ""]
