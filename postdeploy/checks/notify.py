"""Pre-deployment P4, team notified: the deploy notice posted to the team's Slack webhook.

Opt-in: without a `[slack]` section the check is skipped saying what to add. The webhook
URL is a secret and never appears in the result, only "the Slack webhook".
"""

from __future__ import annotations

from postdeploy.checks.advice import advice
from postdeploy.config import Environment
from postdeploy.core.errors import TargetError
from postdeploy.core.results import Result, not_configured, passed, unreachable
from postdeploy.run.record import who
from postdeploy.sources import slack


def notify_team(env: Environment) -> Result:
    """Post the deploy notice; pass when Slack answers 200 `ok`."""
    if env.slack is None:
        return not_configured(f'add a [slack] section with webhook_env = "VAR" (or webhook_file) to {env.path}')
    payload = slack.notice(env.name, env.expected.version, env.expected.commit, who())
    evidence = {
        "channel": "Slack incoming webhook (URL from " + env.slack.webhook.source + ")",
        "message": payload["text"],
    }
    try:
        slack.post(env.slack, payload)
    except TargetError as exc:
        return unreachable(
            f"team not notified: {exc}",
            value="not delivered",
            threshold="200 ok",
            evidence=evidence,
            advice=advice("notify.team"),
        )
    return passed(
        "team notified: Slack accepted the deploy notice (200 ok)",
        value="200 ok",
        threshold="200 ok",
        evidence=evidence,
    )
