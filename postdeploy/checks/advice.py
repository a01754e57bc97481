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
    "db.read": "reads through the API fail: check database connectivity and the service logs; critical functionality broken -> "
    + ROLLBACK,
    "business.flow": "the key business operation fails: critical functionality broken; check logs and Sentry, then "
    + ROLLBACK,
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
