"""Sentry checks: no new issue of level error or fatal since the deploy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from postdeploy.checks.advice import advice
from postdeploy.errors import TargetError
from postdeploy.results import Result, failed, passed
from postdeploy.sentry import SentryClient


def new_issues(client: SentryClient, deployed_at: datetime | None, window: float) -> Result:
    """No unresolved error/fatal issue first seen since the deploy (at most `window` ago)."""
    now = datetime.now(UTC)
    since = max(deployed_at, now - timedelta(seconds=window)) if deployed_at else now - timedelta(seconds=window)
    evidence = {
        "url": client.issues_url(),
        "first seen since": f"{since:%Y-%m-%d %H:%M:%S} UTC",
        "levels": "error, fatal",
    }
    try:
        issues = client.new_issues(since)
    except TargetError as exc:
        return failed(f"cannot read Sentry: {exc}", evidence=evidence, advice=advice("sentry.new"))
    if issues:
        for n, issue in enumerate(issues[:10], 1):
            evidence[f"issue {n}"] = repr(issue) + (f" {issue.permalink}" if issue.permalink else "")
        return failed(
            f"{len(issues)} new Sentry issue(s) since the deploy: {issues[0].title}",
            value=len(issues),
            threshold=0,
            evidence=evidence,
            advice=advice("sentry.new"),
        )
    return passed("no new error/fatal issue in Sentry since the deploy", value=0, threshold=0, evidence=evidence)
