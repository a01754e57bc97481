"""The catalog of checks: one entry per check id, the one place a check's identity lives.

For every check: the guide's item, its phases and severity (the markers in tests_* must agree;
a self-test compares them), what it passes on (the README's tables are generated from this),
the line of the guide's sign-off template it stands for, what to do when it fails (shown under
a failure as "next:"), what it needs configured (a check without it is skipped as "not
configured", see postdeploy.configured) and, for a manual item, what a person attests.

Plain data: importing this module imports nothing else of the suite.
"""

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


ROLLBACK = (
    "roll back (guide: 'Deployment Rollback Needed'): stop the release, redeploy the previous version, verify /health"
)
_BUSINESS = "the key business operation fails: critical functionality broken; check logs and Sentry, then " + ROLLBACK

CHECKS: tuple[Spec, ...] = (
    Spec(
        "deploy.running",
        1,
        ("first15", "first_hour", "first_24h", "daily", "weekly"),
        "critical",
        FIRST15,
        passes="the process / container / pods run and do not restart",
        signoff="Deployment successful",
        advice="check `docker ps` / `kubectl get pods -l app=amani-backend` and the container logs; if it does not start, "
        + ROLLBACK,
        needs=("runtime",),
    ),
    Spec(
        "deploy.version",
        1,
        ("first15",),
        "critical",
        FIRST15,
        passes="`/api/v1/version` reports the expected version and commit",
        signoff="Deployment successful",
        advice="the old release is still served: check the rollout (image tag, pods replaced, load balancer); redeploy",
        needs=("expected",),
    ),
    Spec(
        "wait.ready",
        "1-3",
        ("first15", "first_hour", "first_24h", "daily", "weekly"),
        "critical",
        FIRST15,
        passes="`/api/v1/ping` answers within the bound (default 30 x 5 s)",
        signoff="Deployment successful",
        advice="the service never answered /ping: check the process and its logs; if it does not come up, " + ROLLBACK,
    ),
    Spec(
        "health",
        2,
        ("first15",),
        "critical",
        FIRST15,
        passes='HTTP 200 **and** `status == "healthy"` **and** every check healthy',
        signoff="Health checks passing",
        advice="read checks.* in the body: database down -> check connectivity and credentials; migrations -> run `alembic upgrade head`; if not fixed fast, "
        + ROLLBACK,
    ),
    Spec(
        "readiness",
        3,
        ("first15",),
        "critical",
        FIRST15,
        passes="`ready` is true",
        signoff="Health checks passing",
        advice="a required table or the database is not ready: check migrations and the database; if not fixed fast, "
        + ROLLBACK,
    ),
    Spec(
        "logs.startup",
        4,
        ("first15",),
        "major",
        FIRST15,
        passes="both startup lines logged since the deploy",
        signoff="No errors in logs",
        advice="the startup lines are missing: read the application logs since the deploy for the reason (database init failed?)",
        needs=("logs",),
    ),
    Spec(
        "logs.clean",
        4,
        ("first15",),
        "major",
        FIRST15,
        passes="no ERROR/CRITICAL line since the deploy",
        signoff="No errors in logs",
        advice="read the ERROR/CRITICAL lines below and the Sentry issue for each; decide fix-forward or rollback",
        needs=("logs",),
    ),
    Spec(
        "error_rate",
        5,
        ("first15",),
        "major",
        FIRST15,
        passes="(5xx + unhandled exceptions) / requests < 1 % since the deploy",
        severity_note="major (critical > 10 %)",
        signoff="Metrics normal",
        advice="guide 'High Error Rate': check Sentry for error details, review logs, check database connectivity and external services; above 10% "
        + ROLLBACK,
        needs=("prometheus",),
    ),
    Spec(
        "latency.p95",
        6,
        ("first15",),
        "major",
        FIRST15,
        passes="p95 of `http_request_duration_seconds` < 500 ms since the deploy",
        signoff="Metrics normal",
        advice="guide 'Slow Response Times': check database query performance (pg_stat_statements), CPU/memory, external API timeouts",
        needs=("prometheus",),
    ),
    Spec(
        "sentry.new",
        7,
        ("first15",),
        "major",
        FIRST15,
        passes="no new error/fatal Sentry issue since the deploy",
        signoff="Metrics normal",
        advice="open the new issues in Sentry; a new error type right after a deploy is usually the release's: fix forward or roll back",
        needs=("sentry",),
    ),
    Spec(
        "auth.login",
        8,
        ("first15",),
        "critical",
        FIRST15,
        passes="the synthetic user logs in (200 with `access_token`)",
        signoff="Critical flows tested",
        advice="users cannot log in: critical functionality broken; check the auth service and the database, then "
        + ROLLBACK,
    ),
    Spec(
        "db.read",
        9,
        ("first15",),
        "critical",
        FIRST15,
        passes="`GET /api/v1/projects` answers 200 with a list",
        signoff="Critical flows tested",
        advice="reads through the API fail: check database connectivity and the service logs; critical functionality broken -> "
        + ROLLBACK,
    ),
    Spec(
        "business.flow",
        10,
        ("first15",),
        "critical",
        FIRST15,
        passes="`GET /api/v1/escrow/transactions` answers 200 (write variant: `--allow-writes`; a 4xx to the suite's own `[api] write_create_body` is a configuration error at major severity, verdict `issues`, naming the setting, the status and the answer)",
        signoff="Critical flows tested",
        advice=_BUSINESS,
    ),
    Spec(
        "business.flow.write",
        10,
        ("first15",),
        "critical",
        FIRST15,
        passes="`POST` of `[api] write_create_body` to `write_create_path` answers 200/201 with an id and the record deletes again (only with `--allow-writes`; never where `writes_allowed = false`)",
        signoff="Critical flows tested",
        advice=_BUSINESS,
    ),
    Spec(
        "traffic.routed",
        11,
        ("first_hour",),
        "major",
        METRICS,
        passes="request rate over `windows.rate` not below the baseline (pre_deploy record, else `offset 1d`) by > 50 %",
        signoff="Traffic routing correct",
        advice="traffic is not reaching the release: check the load balancer / ingress targets, DNS and the rollout; compare with the old release's traffic",
        needs=("prometheus",),
    ),
    Spec(
        "resources",
        13,
        ("first_hour",),
        "major",
        METRICS,
        passes="RSS slope (least squares over a range query) below `memory_growth_mb_per_hour` or a poor fit; CPU < 80 % of `cpu_cores`",
        signoff="No memory leaks",
        advice="guide 'Memory Leaks': restart the service, monitor memory usage, profile the application, review recent code changes; CPU > 80%: scale up or optimise",
        needs=("prometheus",),
    ),
    Spec(
        "endpoints",
        14,
        ("first_hour",),
        "major",
        METRICS,
        passes="every entry of `endpoints` has traffic and no 5xx; p95 per endpoint reported",
        signoff="All endpoints responding",
        advice="an endpoint fails or gets no traffic: read its errors in the logs and Sentry; check its route and dependencies; critical functionality broken -> consider rollback",
        needs=("prometheus", "endpoints"),
    ),
    Spec(
        "jobs.schedule",
        16,
        ("first_hour",),
        "major",
        METRICS,
        passes="each `[[jobs]]` entry (last-run `metric` or newest-row `sql`) ran within `interval` x `job_grace`",
        signoff="Background jobs on schedule",
        advice="a background job is late: check the scheduler / worker process and its logs; restart the worker; check the job's database and external dependencies",
        needs=("jobs",),
    ),
    Spec(
        "analytics",
        18,
        ("first_hour",),
        "minor",
        METRICS,
        passes="registrations and transactions per hour inside the business ranges (a Poisson test on short windows)",
        signoff="User analytics reviewed",
        advice="user actions are outside the business ranges: check the sign-up and payment flows by hand and the frontend; compare with the same hour last week",
        needs=("prometheus",),
    ),
    Spec(
        "dashboard",
        19,
        ("first_24h",),
        "major",
        METRICS,
        passes="error rate < 1 %, p95 < 500 ms, no memory growth, CPU < 80 %",
        signoff="Error rate acceptable",
        advice="read the failing panel below: error rate -> 'High Error Rate'; p95 -> 'Slow Response Times'; memory -> 'Memory Leaks'; CPU -> scale up or optimise",
        needs=("prometheus",),
    ),
    Spec(
        "baseline.compare",
        22,
        ("first_24h",),
        "major",
        METRICS,
        passes="rate +-20 %, p95 +max(30 %, 50 ms), error rate < max(2x, 0.5 %) vs the newest pre_deploy baseline, else `baseline.offset` ago",
        signoff="Performance stable",
        advice="the release drifts from its baseline: look at what changed (git log of the release), slow queries (pg_stat_statements), CPU/memory; decide fix-forward or rollback",
        needs=("prometheus",),
    ),
    Spec(
        "baseline.captured",
        "-",
        ("pre_deploy",),
        "minor",
        METRICS,
        passes="rate, error rate, p50/p95/p99 (overall and per endpoint) stored as `data` in record.json",
        signoff="Monitoring ready",
        advice="no baseline: make sure traffic reaches the current release and Prometheus scrapes it before deploying",
        needs=("prometheus",),
    ),
    Spec(
        "trend",
        27,
        ("daily",),
        "major",
        METRICS,
        passes="today's window vs yesterday's (`offset 1d`) within +-30 % (same floors)",
        signoff="Performance trend analysis",
        advice="today degrades against yesterday: check slow queries, CPU/memory and the day's deploys; gradual degradation needs a ticket even without an incident",
        needs=("prometheus",),
    ),
    Spec(
        "tls.cert",
        "S",
        ("first15", "daily"),
        "critical",
        SECURITY,
        passes="the certificate validates for the host (system store or `api.ca_bundle`) and expires in > 14 days",
        severity_note="critical (major when only expiring)",
        signoff="Security smoke (beyond the guide)",
        advice="renew or fix the certificate (chain, host name) before it expires; clients will refuse the API",
    ),
    Spec(
        "tls.cert.warning",
        "S",
        ("daily",),
        "minor",
        SECURITY,
        passes="more than 30 days left",
        signoff="Certificate early warning (beyond the guide)",
        advice="renew or fix the certificate (chain, host name) before it expires; clients will refuse the API",
    ),
    Spec(
        "tls.redirect",
        "S",
        ("first15",),
        "major",
        SECURITY,
        passes="plain HTTP (`security.http_url`) answers 301/307/308 to `https://`",
        signoff="Security smoke (beyond the guide)",
        advice="plain HTTP must redirect to HTTPS: check the proxy / the service's HTTPS redirect middleware",
    ),
    Spec(
        "headers.security",
        "S",
        ("first15",),
        "major",
        SECURITY,
        passes="`security.headers` present, HSTS over HTTPS, no CORS wildcard with credentials",
        signoff="Security smoke (beyond the guide)",
        advice="restore the security headers middleware; missing headers expose users to sniffing and clickjacking",
    ),
    Spec(
        "errors.no_leak",
        "S",
        ("first15",),
        "critical",
        SECURITY,
        passes="a 404 and a malformed JSON body get the error envelope: no traceback, file path, SQL, driver error, DSN or secret",
        signoff="Security smoke (beyond the guide)",
        advice="error bodies leak internals: turn debug mode off and deploy the error handlers; treat as a security incident, roll back",
    ),
    Spec(
        "api.surface",
        "S",
        ("first15",),
        "major",
        SECURITY,
        passes="every endpoint of `/openapi.json` in the previous successful record of the env is still there (or listed in `security.removed_endpoints`)",
        signoff="Security smoke (beyond the guide)",
        advice="an endpoint clients use is gone: restore it, or list it in security.removed_endpoints if removed on purpose",
    ),
    Spec(
        "input.robust",
        "S",
        ("first_hour",),
        "major",
        SECURITY,
        passes="hypothesis-generated malformed bodies to `security.robust_endpoints` (side-effect-free only) never get a 5xx or a timeout, within `security.robust_budget` requests (default 25); a failure shows the smallest failing body",
        signoff="Integrations working",
        advice="malformed input reaches code that crashes: validate the body before use; a 5xx here is also a denial-of-service lever",
        needs=("security.robust_endpoints",),
    ),
    Spec(
        "backup.fresh",
        "P1",
        ("pre_deploy",),
        "critical",
        BACKUPS,
        passes='the newest file of `[backups] dir` is younger than 60 min and reads back: `pg_restore --list` plus a full read for a custom archive, a streamed read to pg_dump\'s "dump complete" line for plain SQL (format from the content, gzipped or not)',
        signoff="Backup created",
        advice="guide P1: take a backup now (`./scripts/backup_database.sh`) and check it reads back (`pg_restore --list FILE`); do not deploy without one",
        needs=("backups",),
    ),
    Spec(
        "changes.recorded",
        "P2",
        ("pre_deploy",),
        "minor",
        BACKUPS,
        passes="`git log --oneline -10` and the diff stat of `[changes] ref` attached; expected version and commit known",
        signoff="Changes reviewed",
        advice="record the release: pass --expect-version/--expect-commit and make the release ref resolvable",
    ),
    Spec(
        "staging.passed",
        "P3",
        ("pre_deploy",),
        "major",
        BACKUPS,
        passes="the newest record of `[staging] env` for this version has verdict success (a failure names the record found)",
        signoff="Staging tests passed",
        advice="guide P3: run the suite against staging with this version (`pytest -m first15 --env staging --expect-version V`) and get a success before deploying",
    ),
    Spec(
        "rollback.ready",
        "P4",
        ("pre_deploy",),
        "major",
        BACKUPS,
        passes="a successful post-deploy record of the previous version exists, and a backup",
        signoff="Team notified",
        advice="guide P4: know where a rollback goes: a successful record of the previous version and a backup",
    ),
    Spec(
        "backup.daily",
        25,
        ("daily",),
        "critical",
        BACKUPS,
        passes="a backup younger than 24 h that reads back",
        signoff="Backups successful",
        advice="the nightly backup did not complete: check the backup job (cron, disk space, pg_dump errors) and run `./scripts/backup_database.sh` by hand",
        needs=("backups",),
    ),
    Spec(
        "backup.restore",
        30,
        ("weekly",),
        "critical",
        BACKUPS,
        passes="the newest backup restores into a scratch database on the `[restore]` server; `alembic_version` present, key tables non-zero and within `count_tolerance` of the live counts; the scratch database is always dropped; the restore time is reported",
        signoff="Backup verification",
        advice="the newest backup does not restore: fix the backup job before you need it; restore an older backup by hand to find the last good one; drop any scratch database left behind",
        needs=("backups", "restore"),
    ),
    Spec(
        "analytics.reviewed",
        18,
        ("first_hour",),
        "minor",
        BACKUPS,
        passes="a person attests that user actions were reviewed where metrics cannot measure them; pending until then",
        signoff="User analytics reviewed",
        advice="guide item 18: review active users, user actions (registrations, transactions) and error rates by user in the analytics dashboards; a drop after the deploy is the release's until shown otherwise",
        manual="user actions reviewed where not measurable (analytics dashboards)",
    ),
    Spec(
        "smoke.manual",
        "P3",
        ("pre_deploy",),
        "minor",
        BACKUPS,
        passes='a person attests the manual smoke tests on staging (`--attest smoke.manual="who: note"`); pending until then',
        signoff="Staging tests passed",
        advice="guide P3 'Manual smoke tests complete': click through login and the key flows on staging, then attest it with --attest smoke.manual=\"who: what was done\"",
        manual="manual smoke tests of the release on staging",
    ),
    Spec(
        "support.channels",
        17,
        ("first_hour",),
        "minor",
        BACKUPS,
        passes="a person attests that the support channels show no user complaints about the release; pending until then",
        signoff="No user complaints",
        advice="guide item 17: check Slack, email and support tickets for user-reported issues (P0/P1 first); an issue caused by the release is an incident: fix forward or roll back",
        manual="support channels reviewed: no user complaints about the release",
    ),
    Spec(
        "team.communicated",
        "P4",
        ("pre_deploy",),
        "minor",
        BACKUPS,
        passes="a person attests that the team and stakeholders were told; pending until then",
        signoff="Team notified",
        advice="guide P4 'Communication': tell the team and stakeholders in the deployment channel, have the rollback plan ready, then attest it",
        manual="the team and stakeholders were told about the deployment",
    ),
    Spec(
        "monitoring.ready",
        "P5",
        ("pre_deploy",),
        "major",
        SERVICES,
        passes="every `monitoring.expected_rules` alert rule loaded in Prometheus with health not `err`; every `grafana.dashboards` uid answers `GET /api/dashboards/uid/:uid`; Sentry answers the token; the log source reads. A part without its section is listed as not configured",
        signoff="Monitoring ready",
        advice="guide P5 'Monitoring dashboards set up': load the alert rules (promtool check rules, reload Prometheus), restore the Grafana dashboard, renew the Sentry token; do not deploy blind",
    ),
    Spec(
        "load.probe",
        "P3",
        ("pre_deploy",),
        "major",
        SERVICES,
        passes="a burst of `load_probe.count` GET/HEAD requests (`concurrency` at a time, at most `max_duration`; hard caps 2000 / 16 / 120 s) to `load_probe.endpoints`: p50 < 100 ms, p95 < 500 ms, p99 < 1 s, 0 errors. Write methods are refused",
        signoff="Staging tests passed",
        advice="guide 'Slow Response Times' before the deploy: p50 > 200 ms optimise, p95/p99 > 1 s review slow queries (pg_stat_statements) and CPU/memory; errors: read the failing endpoint's logs",
        needs=("load_probe",),
    ),
    Spec(
        "integrations",
        24,
        ("first_24h",),
        "major",
        SERVICES,
        passes="FinCra `GET /profile/business/me` with the `api-key` answers 200 `success: true` (no money moves); SMTP answers EHLO, STARTTLS and AUTH when configured (no MAIL FROM: no mail); each `integrations.http` URL answers its expected status",
        signoff="Integrations working",
        advice="check the provider's status page and credentials (FinCra api-key, SMTP user/password), network egress and DNS; payments or email down blocks key flows: escalate to the provider",
        needs=("integrations",),
    ),
    Spec(
        "morning.health",
        25,
        ("daily",),
        "major",
        SERVICES,
        passes='no alert with a `severity` in `alertmanager.critical_severities` active (not silenced or inhibited) in Alertmanager (`/api/v2/alerts`); without an `[alertmanager]` url (or with `[alerts] source = "prometheus"`) no critical alert firing in Prometheus\' own `/api/v1/alerts`; the Sentry issues with events overnight are listed',
        signoff="Morning health check",
        advice="open the firing alerts (Alertmanager, or Prometheus' Alerts page without one) and follow their runbooks; read the overnight Sentry errors; silence only what is understood",
        needs=("alerts",),
    ),
    Spec(
        "alerts.tuning",
        29,
        ("weekly",),
        "minor",
        SERVICES,
        passes='the alerts that fired in `alerts_review.window` (range query of `ALERTS{alertstate="firing"}`) are listed; one that started firing more than `flapping_bound` times fails as flapping, and one that fired through the whole window fails as "always firing since ..."',
        signoff="Alert tuning",
        advice="a flapping alert is noise: raise its `for:` duration or threshold, or fix the cause; an alert firing for days is noise too: fix what it reports or its rule; review alerts that fired but needed no action",
        needs=("prometheus",),
    ),
    Spec(
        "notify.team",
        "P4",
        ("pre_deploy",),
        "minor",
        SERVICES,
        passes="the deploy notice reaches the team's Slack channel through the `[slack]` incoming webhook (opt-in)",
        signoff="Team notified",
        advice="tell the team by hand in the deploy channel; check the webhook (revoked? channel archived?) and Slack's status page",
        needs=("slack",),
    ),
    Spec(
        "db.connections",
        12,
        ("first_hour",),
        "major",
        DATABASE,
        passes="`db_connections_active` and `pg_stat_activity` (filtered by `application_name` and/or role `usename`) agree, within 5-20 (or `normal_relative` x `pool_size`: an idle pool of one needs `[0, 1]` or `normal_min = 1`) and below 80 % of the pool (10 + 20); the slope over the window (range query) does not project past that limit; a metric that reads 0 or disagrees while the database is busy is reported as dead; on failure the ten longest-running active queries are attached",
        signoff="Database performing well",
        advice="guide 'Database Connection Pool Exhausted': read the longest queries below, kill long-running ones, fix connection leaks in code, increase the pool or restart the application; if the metric and pg_stat_activity disagree, fix the metric (a dashboard built on it is blind)",
        needs=("database", "prometheus"),
    ),
    Spec(
        "db.slow_queries",
        15,
        ("first_hour",),
        "major",
        DATABASE,
        passes="no `pg_stat_statements` entry with a mean above 1 s; the top 10 attached; a missing extension is reported with the SQL to enable it",
        signoff="Database performing well",
        advice="guide item 15: add indexes for the slow statements (EXPLAIN ANALYZE them); above 500 ms review the query",
        needs=("database",),
    ),
    Spec(
        "db.long_queries",
        15,
        ("first_hour",),
        "major",
        DATABASE,
        passes="no query active in `pg_stat_activity` longer than `db_checks.long_query` (5 min)",
        signoff="Database performing well",
        advice="guide 'Database Connection Pool Exhausted': find the session (pid above), then SELECT pg_cancel_backend(pid) / pg_terminate_backend(pid) if it is stuck; look for missing indexes or locks",
        needs=("database",),
    ),
    Spec(
        "logs.errors",
        20,
        ("first_24h",),
        "major",
        DATABASE,
        passes='error lines in the last hour (from the deploy at most) <= `log_checks.errors_max`; "connection refused", "timeout", " 500" counted; top 20 error patterns attached',
        signoff="Error rate acceptable",
        advice="guide item 20: read the top error patterns below; 'connection refused' -> a dependency is down, 'timeout' -> slow dependency or database, ' 500' -> failing endpoints (check Sentry)",
        needs=("logs",),
    ),
    Spec(
        "sentry.review",
        21,
        ("first_24h",),
        "major",
        DATABASE,
        passes="no error type first seen since the deploy (unknown in the 14 days before) above `sentry_review.max_per_hour` events/hour",
        signoff="No critical issues",
        advice="guide item 21: open the new error types in Sentry, create tickets for non-critical issues; a frequent new type right after a deploy is the release's: fix forward or roll back",
        needs=("sentry",),
    ),
    Spec(
        "db.size",
        23,
        ("first_24h",),
        "minor",
        DATABASE,
        passes="size and the ten largest tables recorded in `reports/<env>/history.jsonl`; growth since the previous record <= 20 %",
        signoff="Performance stable",
        advice="the database grew faster than expected: look at the largest tables below and what writes to them",
        needs=("database",),
    ),
    Spec(
        "logs.patterns",
        26,
        ("daily",),
        "minor",
        DATABASE,
        passes="the top 20 error patterns of 24 h attached; their total <= `log_checks.patterns_max`",
        signoff="Log review",
        advice="guide item 26: create tickets for the frequent patterns below; fix or silence the noisy ones",
        needs=("logs",),
    ),
    Spec(
        "capacity",
        28,
        ("weekly",),
        "major",
        DATABASE,
        passes="neither the disk (`node_filesystem_avail_bytes` for `capacity.mountpoint`, slope over `disk_window`) nor the database (growth rate from history.jsonl) fills within 30 days; disk >= 10 % free",
        signoff="Capacity planning review",
        advice="guide item 28: clean up or expand the disk (Key metrics: < 10% free), archive old data, plan the database's storage before the projected date",
    ),
)

BY_ID: dict[str, Spec] = {spec.id: spec for spec in CHECKS}

# Advice for one way a check fails, keyed "<check id>.<case>".
VARIANTS: dict[str, str] = {
    "auth.login.refused": "first check the synthetic user: [api.user] email and its password_env/password_file "
    "(rotated? the user deleted or locked?); log in by hand as a real user; only if real users are refused too: "
    + ROLLBACK,
}


def get(check_id: str) -> Spec | None:
    """The catalog entry of a check id, or None (a check of a conftest of your own)."""
    return BY_ID.get(check_id)


def advice(check_id: str) -> str:
    """What the guide says to do next when the check fails ("" for an unknown id)."""
    spec = BY_ID.get(check_id)
    return spec.advice if spec is not None else VARIANTS.get(check_id, "")


def signoff_template() -> dict[str, list[tuple[str, tuple[str, ...]]]]:
    """The sign-off template: per section, each line with the ids of the checks that stand for it."""
    return {
        section: [(label, tuple(s.id for s in CHECKS if s.signoff == label)) for label in labels]
        for section, labels in SIGNOFF.items()
    }


def manual_items() -> dict[str, tuple[str, str]]:
    """The manual items: id -> (guide item, what a person attests)."""
    return {s.id: (str(s.item), s.manual) for s in CHECKS if s.manual}


def of_phase(phase: str | None) -> list[Spec]:
    return [s for s in CHECKS if phase is None or phase in s.phases]


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def table(group: str | None = None, phase: str | None = None) -> str:
    """The checks of a README group (or all) as a Markdown table: check, phase, item, severity, passes when."""
    rows = ["| check | phase | item | severity | passes when |", "|---|---|---|---|---|"]
    for s in of_phase(phase):
        if group is None or s.group == group:
            severity = s.severity_note or s.severity
            rows.append(f"| {s.id} | {', '.join(s.phases)} | {s.item} | {severity} | {_cell(s.passes)} |")
    return "\n".join(rows)


def listing(phase: str | None = None) -> str:
    """The checks as plain text, one line each: id, phases, item, severity, manual or what it needs."""
    specs = of_phase(phase)
    width = max((len(s.id) for s in specs), default=0)
    wide = max((len(",".join(s.phases)) for s in specs), default=0)
    lines = []
    for s in specs:
        extra = "manual" if s.manual else ("needs " + ", ".join(s.needs) if s.needs else "")
        lines.append(f"{s.id:<{width}}  {','.join(s.phases):<{wide}}  {s.item!s:<4}  {s.severity:<8}  {extra}".rstrip())
    return "\n".join(lines)


# The README holds each group's table between these two lines (`make docs` rewrites them).
BEGIN, END = "<!-- checks:{group} (generated by `make docs` from postdeploy/catalog.py) -->", "<!-- /checks -->"


def readme(text: str) -> str:
    """The README with every generated table block replaced by the catalog's table."""
    for key in GROUPS:
        start = BEGIN.format(group=key)
        head, found, rest = text.partition(start)
        if not found:
            continue
        _, found_end, tail = rest.partition(END)
        if not found_end:
            raise ValueError(f"README: {start} without {END}")
        text = f"{head}{start}\n{table(key)}\n{END}{tail}"
    return text
