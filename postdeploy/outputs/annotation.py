"""The deploy annotation in Grafana: at the deploy time, the verdict as text, tags to find it.

Sent with `GrafanaClient.annotate` (`POST /api/annotations`, the documented JSON: `time` in
epoch milliseconds, `tags`, `text`, and `dashboardUID` when one is configured).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from postdeploy.config import Grafana, GrafanaAnnotation
from postdeploy.core.redaction import redact
from postdeploy.sources.grafana import GrafanaClient


def body(cfg: GrafanaAnnotation, data: dict[str, Any], deployed_at: datetime | None) -> dict[str, Any]:
    """Return time (ms), tags and text of the annotation for one run (at the deploy, else the run's start)."""
    when = deployed_at or datetime.fromisoformat(str(data.get("start")))
    verdict = str(data.get("verdict", "?"))
    text = (
        f"postdeploy {verdict.upper()}: {data.get('env')} {data.get('phase')} "
        f"version {data.get('version') or '?'} ({str(data.get('commit') or '?')[:12]})"
    )
    reasons = data.get("verdict_reasons") or []
    if reasons:
        text += "<br>" + "<br>".join(str(r) for r in reasons[:5])
    return {
        "time": int(when.timestamp() * 1000),
        "tags": [*cfg.tags, f"env:{data.get('env')}", f"phase:{data.get('phase')}", f"verdict:{verdict}"],
        "text": redact(text),
    }


def annotate(grafana: Grafana, cfg: GrafanaAnnotation, data: dict[str, Any], deployed_at: datetime | None) -> str:
    """Post the annotation; return what Grafana said, or raise the client's `TargetError`."""
    b = body(cfg, data, deployed_at)
    with GrafanaClient(grafana) as client:
        got = client.annotate(b["text"], b["tags"], b["time"], cfg.dashboard_uid)
    return f"annotation {got} added in Grafana {redact(grafana.url)}"
