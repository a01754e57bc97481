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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from postdeploy.config import Budget
from postdeploy.core import gates
from postdeploy.core.redaction import redact
from postdeploy.run import budget as budget_mod
from postdeploy.run.runmodel import SCHEMA, CheckEntry, Outcome, RunRecord, Verdict, entries
from postdeploy.run.verdict import final_verdict

__all__ = [
    "SCHEMA",
    "Record",
    "incomplete_record",
    "run_dir",
    "point_latest",
    "who",
    "suite_commit",
    "write",
]
# Where the other reports of a run are, relative to its folder.
REPORTS = {"html": "report.html", "junit": "junit.xml", "allure": "allure-results/", "signoff": "record.md"}


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
    """Everything one run found; grows as checks finish, `to_json` gives record.json's content."""

    env: str
    phase: str
    targets: dict[str, str]
    thresholds: dict[str, Any]
    expected_version: str
    expected_commit: str
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    checks: dict[str, CheckEntry] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def add(self, nodeid: str, said: Mapping[str, Any]) -> None:
        """Merge what one report phase (setup, call, teardown) says about a check; the worst outcome wins."""
        self.checks.setdefault(nodeid, CheckEntry(nodeid)).merge(said)

    def requests(self) -> int:
        """The API requests the checks sent (the run's login not included)."""
        return sum(int(c.requests or 0) for c in self.checks.values())

    def entries(self) -> list[CheckEntry]:
        """The checks in the guide's order; a dependant that failed while its root failed (on another
        xdist worker) is blocked (gates.relabel)."""
        ordered = sorted(self.checks.values(), key=lambda c: (_item_key(c.item), c.nodeid))
        found = [c.to_json() for c in ordered]
        gates.relabel(found)
        return entries(found)

    def to_json(
        self,
        *,
        inconclusive_is_issue: bool,
        api_requests: int,
        logins: int,
        budget: Budget | None = None,
        finished: bool = True,
        incomplete: Callable[[list[CheckEntry]], str] | None = None,
        collect_errors: Sequence[str] = (),
    ) -> dict[str, Any]:
        """The record as it stands, its verdict decided by verdict.final_verdict from everything given."""
        checks = self.entries()
        use = budget_mod.usage(self.phase, api_requests, budget) if budget is not None else None
        decision = final_verdict(
            checks,
            inconclusive_is_issue=inconclusive_is_issue,
            budget=use,
            finished=finished,
            incomplete=incomplete(checks) if incomplete is not None else "",
            collect_errors=collect_errors,
        )
        extra = {**self._facts(checks, api_requests, logins), **self.extra}
        if use is not None:
            extra["budget"] = use
        extra["pending_attestations"] = [c.id for c in checks if c.outcome is Outcome.PENDING]
        extra["reports"] = dict(REPORTS)
        if decision.so_far is not None:
            extra["verdict_so_far"] = str(decision.so_far)
        live = self._live(checks)
        return RunRecord(
            env=self.env,
            phase=self.phase,
            verdict=decision.verdict,
            verdict_reasons=decision.reasons,
            checks=checks,
            version=self.expected_version or str(live.get("version", "")),
            commit=self.expected_commit or str(live.get("commit", "")),
            complete=finished,
            judged=any(c.outcome is not None and c.outcome.judged for c in checks),
            extra=extra,
        ).to_json()

    @staticmethod
    def _live(checks: list[CheckEntry]) -> dict[str, Any]:
        """What deploy.version found live."""
        return next((c.value for c in checks if c.id == "deploy.version" and isinstance(c.value, dict)), {})

    def _facts(self, checks: list[CheckEntry], api_requests: int, logins: int) -> dict[str, Any]:
        ended = datetime.now(UTC)
        counts: dict[str, int] = {}
        for c in checks:
            counts[str(c.outcome or "?")] = counts.get(str(c.outcome or "?"), 0) + 1
        return {
            "live_version": self._live(checks),
            "who": who(),
            "start": self.started.isoformat(timespec="seconds"),
            "end": ended.isoformat(timespec="seconds"),
            "duration_s": round((ended - self.started).total_seconds(), 2),
            "targets": self.targets,
            "thresholds": self.thresholds,
            "api_requests": api_requests,
            "logins": logins,
            "counts": counts,
        }


def incomplete_record(env: str, phase: str, reason: str, exit_status: int) -> dict[str, Any]:
    """The record of a run that judged nothing and stopped (a start-up error): verdict incomplete."""
    return RunRecord(
        env=env,
        phase=phase,
        verdict=Verdict.INCOMPLETE,
        verdict_reasons=[reason],
        judged=False,
        extra={"exit_status": exit_status, "end": datetime.now(UTC).isoformat(timespec="seconds")},
    ).to_json()


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
