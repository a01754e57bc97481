"""Export a run to a Prometheus Pushgateway: one sample per check, the verdict, the run time.

Pushed with PUT to `/metrics/job/<job>/env/<env>/phase/<phase>`, so each push replaces the
previous run of the same env and phase (a check that was removed does not linger).

- `postdeploy_check_passed{env,phase,check,severity}`: 1 passed, 0 failed, error or
  inconclusive (skipped checks are not pushed: they measured nothing);
- `postdeploy_verdict{env,phase}`: 0 success, 1 issues, 2 rollback, 3 incomplete (the exit
  codes of `python -m postdeploy verdict`), so `postdeploy_verdict > 0` is an alert rule;
- `postdeploy_run_timestamp_seconds{env,phase}`: when the run ended (Unix seconds).
The Pushgateway rejects samples with timestamps, so none are sent.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx

from postdeploy.config import Pushgateway
from postdeploy.core.errors import TargetError
from postdeploy.core.redaction import redact
from postdeploy.run.runmodel import EXIT, NO_RECORD, entries
from postdeploy.sources.httpjson import JsonClient, snippet


def _label(value: Any) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def exposition(data: dict[str, Any]) -> str:
    """Return the Prometheus text format of one record (the grouping labels env and phase are in the URL)."""
    lines = [
        "# HELP postdeploy_check_passed 1 when the check passed, 0 when it failed, errored or was inconclusive.",
        "# TYPE postdeploy_check_passed gauge",
    ]
    seen: set[tuple[str, str]] = set()
    for c in entries(data.get("checks", [])):
        key = (c.id, c.severity)
        if c.outcome is None or not c.outcome.judged or key in seen:
            continue  # skipped and pending checks measured nothing
        seen.add(key)
        lines.append(
            f'postdeploy_check_passed{{check="{_label(key[0])}",severity="{_label(key[1])}"}} '
            f"{1 if c.outcome == 'passed' else 0}"
        )
    lines += [
        "# HELP postdeploy_verdict Verdict of the run: 0 success, 1 issues, 2 rollback, 3 incomplete.",
        "# TYPE postdeploy_verdict gauge",
        f"postdeploy_verdict {EXIT.get(str(data.get('verdict')), NO_RECORD)}",
        "# HELP postdeploy_run_timestamp_seconds When the run ended, Unix seconds.",
        "# TYPE postdeploy_run_timestamp_seconds gauge",
        f"postdeploy_run_timestamp_seconds {_ended(data):.3f}",
    ]
    return "\n".join(lines) + "\n"


def _ended(data: dict[str, Any]) -> float:
    try:
        return datetime.fromisoformat(str(data.get("end"))).timestamp()
    except ValueError:
        return 0.0


def group_path(cfg: Pushgateway, env: str, phase: str) -> str:
    return f"/metrics/job/{quote(cfg.job, safe='')}/env/{quote(env, safe='')}/phase/{quote(phase, safe='')}"


def push(cfg: Pushgateway, data: dict[str, Any], transport: httpx.BaseTransport | None = None) -> str:
    """Push one record; return what was done, or raise a `TargetError` that names the Pushgateway."""
    path = group_path(cfg, str(data.get("env")), str(data.get("phase")))
    auth = (cfg.username, cfg.password.reveal()) if cfg.password is not None else None
    where = f"Pushgateway {redact(cfg.url)}"
    with JsonClient("Pushgateway", base_url=cfg.url, timeout=cfg.timeout, auth=auth, transport=transport) as client:
        resp = client.send(
            "PUT", path, content=exposition(data), headers={"Content-Type": "text/plain; version=0.0.4"}
        )
    if resp.status_code not in (200, 202):
        raise TargetError(f"{where} answered {resp.status_code}: {snippet(resp.text, 160)}", target=cfg.url)
    return f"pushed to {where}{path}"
