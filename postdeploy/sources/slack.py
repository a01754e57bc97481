"""Slack incoming webhooks: the team notice of pre_deploy (notify.team) and the final verdict.

A webhook URL is a credential (anyone holding it can post), so it is a `Secret`: it never
appears in a message, an error, a record or a report; errors name "the Slack webhook".
Slack answers a webhook POST with 200 and the body `ok`; errors are plain-text codes
with 400 (`invalid_payload`, `no_text`), 403 (`invalid_token`, `action_prohibited`),
404 (`no_service`, `channel_not_found`), 410 (`channel_is_archived`) or 5xx.
"""

from __future__ import annotations

from typing import Any

import httpx

from postdeploy.config import Slack
from postdeploy.core.errors import BadResponse
from postdeploy.core.redaction import redact
from postdeploy.sources.httpjson import JsonClient

WHERE = "Slack webhook"
MEANING = {
    400: "Slack rejected the message",
    403: "the webhook is not allowed to post (revoked token or workspace policy)",
    404: "the webhook URL is wrong or was removed",
    410: "the webhook's channel is archived",
}
EMOJI = {"success": ":white_check_mark:", "issues": ":warning:", "rollback": ":x:", "incomplete": ":grey_question:"}


def post(cfg: Slack, payload: dict[str, Any], transport: httpx.BaseTransport | None = None) -> None:
    """Post one message; raise a `TargetError` (without the URL) unless Slack answered 200 `ok`."""
    with JsonClient(WHERE, timeout=cfg.timeout, transport=transport, secret_url=True) as client:
        resp = client.send("POST", cfg.webhook.reveal(), json=payload)
    body = redact(resp.text.strip()[:120])
    if resp.status_code == 200 and body == "ok":
        return
    meaning = MEANING.get(resp.status_code, "Slack could not take the message" if resp.status_code >= 500 else "")
    raise BadResponse(
        f"{WHERE} answered {resp.status_code} {body!r}" + (f": {meaning}" if meaning else ""), target=WHERE
    )


def notice(env: str, version: str, commit: str, who: str) -> dict[str, Any]:
    """The pre-deployment notice: who deploys what where."""
    text = (
        f":rocket: Deploying *{version or 'unknown version'}* ({(commit or '?')[:12]}) to *{env}*; "
        f"post-deployment checks by {who}. Watch the channel for the verdict."
    )
    return {"text": text}


def verdict_message(data: dict[str, Any], report: str) -> dict[str, Any]:
    """The final verdict of a run: verdict, env, phase, version, reasons and where the report is."""
    verdict = str(data.get("verdict", "?"))
    reasons = data.get("verdict_reasons") or []
    lines = [
        f"{EMOJI.get(verdict, '')} postdeploy *{verdict.upper()}*: env *{data.get('env')}*, phase "
        f"*{data.get('phase')}*, version {data.get('version') or '?'} ({str(data.get('commit') or '?')[:12]})",
        *[f"• {r}" for r in reasons[:10]],
        f"Report: {report}",
    ]
    return {"text": redact("\n".join(lines))}
