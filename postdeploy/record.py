"""The deployment record: one `record.json` per run, beside the HTML, Allure and JUnit reports.

Layout: `reports/<env>/<UTC timestamp>-<phase>/` holding `report.html`, `allure-results/`,
`junit.xml` and `record.json`; `reports/<env>/latest` points at the newest run.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from postdeploy import gates
from postdeploy.redaction import redact
from postdeploy.verdict import decide

SCHEMA = 1
OUTCOME_ORDER = {"error": 0, "failed": 1, "inconclusive": 2, "blocked": 3, "skipped": 4, "passed": 5}


def run_dir(reports: Path, env: str, phase: str, now: datetime | None = None) -> Path:
    """Return a new, empty run folder `reports/<env>/<YYYYmmddTHHMMSSZ>-<phase>`."""
    now = now or datetime.now(UTC)
    base = reports / env / f"{now:%Y%m%dT%H%M%SZ}-{phase}"
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}.{n}")
    path.mkdir(parents=True)
    return path


def point_latest(folder: Path) -> None:
    """Point `<env>/latest` at `folder` (a relative symlink, replaced atomically)."""
    link = folder.parent / "latest"
    tmp = folder.parent / f".latest.{os.getpid()}"
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(folder.name)
    os.replace(tmp, link)


def who() -> str:
    """Return who ran the checks: POSTDEPLOY_WHO, else user@host."""
    if os.environ.get("POSTDEPLOY_WHO"):
        return os.environ["POSTDEPLOY_WHO"]
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    return f"{user}@{socket.gethostname()}"


def suite_commit(root: Path) -> str:
    """Return the suite's own git commit (what checked), or "" outside a checkout."""
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


@dataclass
class Record:
    """Everything one run found, as written to record.json."""

    env: str
    phase: str
    targets: dict[str, str]
    thresholds: dict[str, Any]
    expected_version: str
    expected_commit: str
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    checks: dict[str, dict[str, Any]] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def add(self, nodeid: str, entry: dict[str, Any]) -> None:
        """Merge what one report phase (setup, call, teardown) says about a check; the worst outcome wins."""
        have = self.checks.setdefault(nodeid, {"nodeid": nodeid})
        outcome = entry.pop("outcome", None)
        have.update({k: v for k, v in entry.items() if v not in (None, "", {})})
        if (
            outcome
            and OUTCOME_ORDER[outcome] < OUTCOME_ORDER.get(have.get("outcome", "passed"), 6)
            or outcome
            and "outcome" not in have
        ):
            have["outcome"] = outcome

    def to_json(self, *, inconclusive_is_issue: bool, api_requests: int, logins: int) -> dict[str, Any]:
        checks = sorted(self.checks.values(), key=lambda c: (_item_key(c.get("item")), c["nodeid"]))
        # A dependant that failed while its root failed (on another xdist worker) is blocked.
        checks = [dict(c) for c in checks]
        gates.relabel(checks)
        verdict, reasons = decide(checks, inconclusive_is_issue=inconclusive_is_issue)
        ended = datetime.now(UTC)
        live: dict[str, Any] = next(
            (c["value"] for c in checks if c.get("id") == "deploy.version" and isinstance(c.get("value"), dict)), {}
        )
        counts: dict[str, int] = {}
        for c in checks:
            counts[c.get("outcome", "?")] = counts.get(c.get("outcome", "?"), 0) + 1
        return {
            "schema": SCHEMA,
            "env": self.env,
            "phase": self.phase,
            "version": self.expected_version or live.get("version", ""),
            "commit": self.expected_commit or live.get("commit", ""),
            "live_version": live,
            "who": who(),
            "start": self.started.isoformat(timespec="seconds"),
            "end": ended.isoformat(timespec="seconds"),
            "duration_s": round((ended - self.started).total_seconds(), 2),
            "targets": self.targets,
            "thresholds": self.thresholds,
            "api_requests": api_requests,
            "logins": logins,
            "counts": counts,
            "verdict": verdict,
            "verdict_reasons": reasons,
            "checks": checks,
            **self.extra,
        }


def _item_key(item: Any) -> tuple[int, str]:
    """Sort checks in the guide's order: P1..P6 first, then 1..30, then the rest."""
    text = str(item)
    if text.startswith("P") and text[1:].isdigit():
        return (0, f"{int(text[1:]):03d}")
    if text.isdigit():
        return (1, f"{int(text):03d}")
    if "-" in text and text.split("-")[0].isdigit():
        return (1, f"{int(text.split('-')[0]):03d}")
    return (2, text)


def write(folder: Path, data: dict[str, Any], *, latest: bool = True) -> Path:
    """Write record.json (redacted, atomically) and point `latest` at the folder.

    `latest=False` for a run that judged no check (verdict incomplete): `latest` keeps
    pointing at the last run with a real verdict.
    """
    path = folder / "record.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(redact(json.dumps(data, indent=2, default=str)) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    if latest:
        point_latest(folder)
    return path
