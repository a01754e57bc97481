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
    "notify.team": "tell the team by hand in the deploy channel; check the webhook (revoked? channel archived?) and Slack's status page",
}


def advice(check_id: str) -> str:
    return ADVICE.get(check_id, "")
