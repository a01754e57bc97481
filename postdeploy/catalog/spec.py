"""The vocabulary of the catalog: phases, severities, README groups, the sign-off template,
what a check may need configured, and `Spec`, one check's entry."""

from __future__ import annotations

from dataclasses import dataclass

PHASES = ("pre_deploy", "first15", "first_hour", "first_24h", "daily", "weekly")
SEVERITIES = ("critical", "major", "minor")

# The README's check tables, in order: (key, heading).
GROUPS = {
    "FIRST15": "First 15 minutes",
    "METRICS": "Metrics after the first 15 minutes",
    "SECURITY": "Beyond the guide: security and contract smoke",
    "BACKUPS": "Before the deploy, daily, weekly: backups, change record, manual items",
    "SERVICES": "Monitoring setup, load probe, integrations, alerts",
    "DATABASE": "Database, logs, Sentry review, capacity",
}
FIRST15, METRICS, SECURITY, BACKUPS, SERVICES, DATABASE = GROUPS

# The guide's "Monitoring Checklist Template", section by section, line by line; the Daily and
# Weekly sections (the guide's "Ongoing Monitoring") and the lines marked "beyond" are ours.
SIGNOFF: dict[str, tuple[str, ...]] = {
    "Pre-Deployment": (
        "Backup created",
        "Changes reviewed",
        "Staging tests passed",
        "Team notified",
        "Monitoring ready",
    ),
    "First 15 Minutes": (
        "Deployment successful",
        "Health checks passing",
        "No errors in logs",
        "Metrics normal",
        "Critical flows tested",
        "Security smoke (beyond the guide)",
    ),
    "First Hour": (
        "Traffic routing correct",
        "All endpoints responding",
        "Database performing well",
        "Background jobs on schedule",
        "No user complaints",
        "User analytics reviewed",
        "Integrations working",
    ),
    "First 24 Hours": (
        "Error rate acceptable",
        "Performance stable",
        "No memory leaks",
        "Backups successful",
        "No critical issues",
    ),
    "Daily": (
        "Morning health check",
        "Log review",
        "Performance trend analysis",
        "Certificate early warning (beyond the guide)",
    ),
    "Weekly": (
        "Capacity planning review",
        "Alert tuning",
        "Backup verification",
    ),
}

# What a check may need configured, and what the "not configured" skip tells the reader to do
# ({path}: the environment file). A need is met when the attribute of the Environment is set
# (dotted: security.robust_endpoints); "expected" and "alerts" are decided in configured.py.
NEEDS: dict[str, str] = {
    "runtime": "add a [runtime] section (kind = process | docker | kubectl) to {path}",
    "expected": "pass --expect-version or set [expected] (or --expect-commit) in {path}",
    "prometheus": "add a [prometheus] section with url and job to {path}",
    "database": "add a [database] section with dsn and password_env to {path}",
    "logs": "add a [logs] section with kind and path/container/selector to {path}",
    "sentry": "add a [sentry] section with org, project and token_env to {path}",
    "backups": "add [backups] dir to {path}",
    "restore": "add [restore] dsn and password_env (a role with CREATEDB) to {path}",
    "load_probe": "add [load_probe] endpoints to {path}",
    "security.robust_endpoints": "list side-effect-free endpoints in security.robust_endpoints of {path}",
    "alerts": "add an [alertmanager] section with url, or a [prometheus] section "
    "(its /api/v1/alerts is read without Alertmanager), to {path}",
    "slack": 'add a [slack] section with webhook_env = "VAR" (or webhook_file) to {path}',
    "integrations": "add [integrations.fincra], [integrations.smtp] or [integrations] http to {path}",
    "jobs": "add [[jobs]] entries (name, interval, metric or sql) to {path}",
    "endpoints": "list the critical endpoints in `endpoints` of {path}",
}


@dataclass(frozen=True)
class Spec:
    """One check of the catalog."""

    id: str
    item: int | str
    phases: tuple[str, ...]
    severity: str
    group: str
    passes: str
    # "major (critical > 10 %)": the severity column when a result may change it.
    severity_note: str = ""
    # The line of the sign-off template (SIGNOFF) this check stands for.
    signoff: str = ""
    advice: str = ""
    # Keys of NEEDS: skipped as "not configured" when one is missing. A check that needs
    # only some of several sections (capacity, monitoring.ready) decides that itself.
    needs: tuple[str, ...] = ()
    # A manual item: what a person attests (attest.py); empty for an automated check.
    manual: str = ""
    # `--watch` evaluates it again every interval over its window (it reads metrics, logs,
    # Sentry or the live database); the others run once.
    watched: bool = False


ROLLBACK = (
    "roll back (guide: 'Deployment Rollback Needed'): stop the release, redeploy the previous version, verify /health"
)
