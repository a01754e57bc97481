"""What the guide says to do next, per check (shown under a failure as "next:")."""

from __future__ import annotations

ROLLBACK = (
    "roll back (guide: 'Deployment Rollback Needed'): stop the release, redeploy the previous version, verify /health"
)

ADVICE = {
    "deploy.running": "check `docker ps` / `kubectl get pods -l app=amani-backend` and the container logs; if it does not start, "
    + ROLLBACK,
    "deploy.version": "the old release is still served: check the rollout (image tag, pods replaced, load balancer); redeploy",
    "wait.ready": "the service never answered /ping: check the process and its logs; if it does not come up, "
    + ROLLBACK,
    "health": "read checks.* in the body: database down -> check connectivity and credentials; migrations -> run `alembic upgrade head`; if not fixed fast, "
    + ROLLBACK,
    "readiness": "a required table or the database is not ready: check migrations and the database; if not fixed fast, "
    + ROLLBACK,
    "logs.startup": "the startup lines are missing: read the application logs since the deploy for the reason (database init failed?)",
    "logs.clean": "read the ERROR/CRITICAL lines below and the Sentry issue for each; decide fix-forward or rollback",
    "error_rate": "guide 'High Error Rate': check Sentry for error details, review logs, check database connectivity and external services; above 10% "
    + ROLLBACK,
    "latency.p95": "guide 'Slow Response Times': check database query performance (pg_stat_statements), CPU/memory, external API timeouts",
    "sentry.new": "open the new issues in Sentry; a new error type right after a deploy is usually the release's: fix forward or roll back",
    "auth.login": "users cannot log in: critical functionality broken; check the auth service and the database, then "
    + ROLLBACK,
    "auth.login.refused": "first check the synthetic user: [api.user] email and its password_env/password_file "
    "(rotated? the user deleted or locked?); log in by hand as a real user; only if real users are refused too: "
    + ROLLBACK,
    "db.read": "reads through the API fail: check database connectivity and the service logs; critical functionality broken -> "
    + ROLLBACK,
    "business.flow": "the key business operation fails: critical functionality broken; check logs and Sentry, then "
    + ROLLBACK,
    # Pre-deployment, daily and weekly: backups, change record, staging, rollback (H3).
    "backup.fresh": "guide P1: take a backup now (`./scripts/backup_database.sh`) and check it reads back "
    "(`pg_restore --list FILE`); do not deploy without one",
    "backup.daily": "the nightly backup did not complete: check the backup job (cron, disk space, pg_dump errors) "
    "and run `./scripts/backup_database.sh` by hand",
    "backup.restore": "the newest backup does not restore: fix the backup job before you need it; restore an older "
    "backup by hand to find the last good one; drop any scratch database left behind",
    "changes.recorded": "record the release: pass --expect-version/--expect-commit and make the release ref resolvable",
    "staging.passed": "guide P3: run the suite against staging with this version (`pytest -m first15 --env staging "
    "--expect-version V`) and get a success before deploying",
    "rollback.ready": "guide P4: know where a rollback goes: a successful record of the previous version and a backup",
    # Issue 4: monitoring setup, load probe, integrations, alerts.
    "monitoring.ready": "guide P5 'Monitoring dashboards set up': load the alert rules (promtool check rules, reload Prometheus), restore the Grafana dashboard, renew the Sentry token; do not deploy blind",
    "load.probe": "guide 'Slow Response Times' before the deploy: p50 > 200 ms optimise, p95/p99 > 1 s review slow queries (pg_stat_statements) and CPU/memory; errors: read the failing endpoint's logs",
    "integrations": "check the provider's status page and credentials (FinCra api-key, SMTP user/password), network egress and DNS; payments or email down blocks key flows: escalate to the provider",
    "morning.health": "open the firing alerts (Alertmanager, or Prometheus' Alerts page without one) and follow their runbooks; read the overnight Sentry errors; silence only what is understood",
    "alerts.tuning": "a flapping alert is noise: raise its `for:` duration or threshold, or fix the cause; an alert firing for days is noise too: fix what it reports or its rule; review alerts that fired but needed no action",
    "notify.team": "tell the team by hand in the deploy channel; check the webhook (revoked? channel archived?) and Slack's status page",
}

# First hour, first 24 hours, daily: the metric checks (items 11-27).
ADVICE.update(
    {
        "traffic.routed": "traffic is not reaching the release: check the load balancer / ingress targets, DNS and the rollout; compare with the old release's traffic",
        "resources": "guide 'Memory Leaks': restart the service, monitor memory usage, profile the application, review recent code changes; CPU > 80%: scale up or optimise",
        "endpoints": "an endpoint fails or gets no traffic: read its errors in the logs and Sentry; check its route and dependencies; critical functionality broken -> consider rollback",
        "jobs.schedule": "a background job is late: check the scheduler / worker process and its logs; restart the worker; check the job's database and external dependencies",
        "analytics": "user actions are outside the business ranges: check the sign-up and payment flows by hand and the frontend; compare with the same hour last week",
        "dashboard": "read the failing panel below: error rate -> 'High Error Rate'; p95 -> 'Slow Response Times'; memory -> 'Memory Leaks'; CPU -> scale up or optimise",
        "baseline.compare": "the release drifts from its baseline: look at what changed (git log of the release), slow queries (pg_stat_statements), CPU/memory; decide fix-forward or rollback",
        "baseline.captured": "no baseline: make sure traffic reaches the current release and Prometheus scrapes it before deploying",
        "trend": "today degrades against yesterday: check slow queries, CPU/memory and the day's deploys; gradual degradation needs a ticket even without an incident",
    }
)


def advice(check_id: str) -> str:
    return ADVICE.get(check_id, "")


# Database, logs, Sentry review and capacity (items 12, 15, 20, 21, 23, 26, 28).
ADVICE.update(
    {
        "db.connections": "guide 'Database Connection Pool Exhausted': read the longest queries below, kill long-running ones, "
        "fix connection leaks in code, increase the pool or restart the application; if the metric and pg_stat_activity "
        "disagree, fix the metric (a dashboard built on it is blind)",
        "db.slow_queries": "guide item 15: add indexes for the slow statements (EXPLAIN ANALYZE them); above 500 ms review the query",
        "db.long_queries": "guide 'Database Connection Pool Exhausted': find the session (pid above), then "
        "SELECT pg_cancel_backend(pid) / pg_terminate_backend(pid) if it is stuck; look for missing indexes or locks",
        "db.size": "the database grew faster than expected: look at the largest tables below and what writes to them",
        "logs.errors": "guide item 20: read the top error patterns below; 'connection refused' -> a dependency is down, "
        "'timeout' -> slow dependency or database, ' 500' -> failing endpoints (check Sentry)",
        "logs.patterns": "guide item 26: create tickets for the frequent patterns below; fix or silence the noisy ones",
        "sentry.review": "guide item 21: open the new error types in Sentry, create tickets for non-critical issues; "
        "a frequent new type right after a deploy is the release's: fix forward or roll back",
        "capacity": "guide item 28: clean up or expand the disk (Key metrics: < 10% free), archive old data, "
        "plan the database's storage before the projected date",
    }
)
