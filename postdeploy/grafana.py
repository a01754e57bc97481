"""A Grafana annotation at deploy time with the verdict (Grafana HTTP API `POST /api/annotations`).

The request is the documented one: JSON with `time` (epoch milliseconds), `tags`, `text`
and, to pin it to a dashboard or a panel, `dashboardUID` and `panelId`; authenticated with
a service-account token as `Authorization: Bearer`. Grafana answers 200
`{"message": "Annotation added", "id": N}`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx

from postdeploy.config import Grafana
from postdeploy.errors import BadResponse, TargetTimeout, TargetUnreachable
from postdeploy.redaction import redact


def annotation(cfg: Grafana, data: dict[str, Any], deployed_at: datetime | None) -> dict[str, Any]:
    """Return the annotation body for one run: at the deploy time (else the run's start)."""
    when = deployed_at or datetime.fromisoformat(str(data.get("start")))
    verdict = str(data.get("verdict", "?"))
    text = (
        f"postdeploy {verdict.upper()}: {data.get('env')} {data.get('phase')} "
        f"version {data.get('version') or '?'} ({str(data.get('commit') or '?')[:12]})"
    )
    reasons = data.get("verdict_reasons") or []
    if reasons:
        text += "<br>" + "<br>".join(str(r) for r in reasons[:5])
    body: dict[str, Any] = {
        "time": int(when.timestamp() * 1000),
        "tags": [*cfg.tags, f"env:{data.get('env')}", f"phase:{data.get('phase')}", f"verdict:{verdict}"],
        "text": redact(text),
    }
    if cfg.dashboard_uid:
        body["dashboardUID"] = cfg.dashboard_uid
        if cfg.panel_id:
            body["panelId"] = cfg.panel_id
    return body


def annotate(cfg: Grafana, body: dict[str, Any], transport: httpx.BaseTransport | None = None) -> str:
    """POST the annotation; return what Grafana said, or raise a `TargetError` naming Grafana."""
    where = f"Grafana {redact(cfg.url)}/api/annotations"
    headers = {"Authorization": f"Bearer {cfg.token.reveal()}", "Accept": "application/json"}
    try:
        with httpx.Client(base_url=cfg.url, timeout=httpx.Timeout(cfg.timeout), transport=transport) as client:
            resp = client.post("/api/annotations", json=body, headers=headers)
    except httpx.TimeoutException:
        raise TargetTimeout(f"{where}: no answer within {cfg.timeout:g}s", target=cfg.url) from None
    except httpx.TransportError as exc:
        raise TargetUnreachable(f"{where}: cannot connect: {redact(str(exc))}", target=cfg.url) from None
    try:
        answer = resp.json()
    except ValueError:
        answer = None
    if resp.status_code != 200 or not isinstance(answer, dict):
        raise BadResponse(f"{where} answered {resp.status_code}: {redact(resp.text[:160])}", target=cfg.url)
    return f"annotation {answer.get('id', '?')} added in {where}"
