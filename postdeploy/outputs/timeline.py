"""One timeline per deployment: every phase run for an env + version + commit on one page.

`reports/<env>/<version>/timeline.html` gathers the records of that version (one section
per commit, newest first), so the first-24-hours sign-off is made from one page: per run
the phase, when it ran, its verdict, the checks that failed, the requests against the
budget and a link to the run's report. Regenerated at the end of every run, and by
`python -m postdeploy timeline`. Self-contained: no script, no network.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any

from postdeploy.core.terms import PHASES, VERDICT_COLOURS
from postdeploy.outputs import templating
from postdeploy.run.pastruns import record_folders
from postdeploy.run.runmodel import BAD, Verdict, verdict_of, worst


def safe_name(version: str) -> str:
    """Return a folder name for a version ("1.4.2"; anything odd becomes "_")."""
    name = re.sub(r"[^A-Za-z0-9._+-]", "_", version or "unknown").strip(".") or "unknown"
    return name[:80]


def records(env_dir: Path) -> list[tuple[Path, dict[str, Any]]]:
    """Return every record of one environment that is part of a deployment's story, oldest first.

    A run that judged no check (verdict incomplete, scope.py) is left out.
    """
    return [(f, d) for f, d in record_folders(env_dir) if "checks" in d and d.get("judged") is not False]


def for_deployment(env_dir: Path, version: str) -> dict[str, list[tuple[Path, dict[str, Any]]]]:
    """Return the runs of one version, by commit (a rebuild of a version is another deployment)."""
    by_commit: dict[str, list[tuple[Path, dict[str, Any]]]] = {}
    for folder, data in records(env_dir):
        if (data.get("version") or "") == version:
            by_commit.setdefault(str(data.get("commit") or "unknown"), []).append((folder, data))
    return by_commit


def _phase_key(data: dict[str, Any]) -> tuple[int, str]:
    phase = str(data.get("phase"))
    return (PHASES.index(phase) if phase in PHASES else len(PHASES), str(data.get("start", "")))


def _parse(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None


def _when(value: Any) -> str:
    parsed = _parse(value)
    return parsed.strftime("%Y-%m-%d %H:%M:%S") if parsed else str(value or "?")


def _since_deploy(data: dict[str, Any]) -> str:
    """ "T+2h05m after the deploy, " for a run whose record knows the deploy time."""
    start, deployed = _parse(data.get("start")), _parse(data.get("deployed_at"))
    if start is None or deployed is None:
        return ""
    seconds = int((start - deployed).total_seconds())
    sign, seconds = ("-", -seconds) if seconds < 0 else ("+", seconds)
    h, rest = divmod(seconds, 3600)
    m, sec = divmod(rest, 60)
    text = f"{h}h{m:02d}m" if h else f"{m}m{sec:02d}s" if m else f"{sec}s"
    return f"deploy {sign}{text}, "


def _row(folder: Path, data: dict[str, Any]) -> dict[str, Any]:
    """One run of the page: what templates/timeline.html.j2 shows in its row."""
    verdict = str(data.get("verdict", "?"))
    bad = [
        {
            "id": str(c.get("id")),
            "severity": str(c.get("severity", "?")),
            "outcome": str(c.get("outcome")),
            "summary": str(c.get("summary", ""))[:240],
        }
        for c in data.get("checks", [])
        if c.get("outcome") in BAD
    ]
    budget = data.get("budget") or {}
    return {
        "phase": str(data.get("phase")),
        "when": _when(data.get("start")),
        "since": _since_deploy(data),
        "duration": data.get("duration_s", "?"),
        "who": str(data.get("who", "?")),
        "verdict": verdict.upper(),
        "colour": VERDICT_COLOURS.get(verdict, "#555"),
        "counts": ", ".join(f"{v} {k}" for k, v in sorted((data.get("counts") or {}).items())),
        "bad": bad,
        "requests": data.get("api_requests", 0),
        "budget": {"limit": budget.get("limit"), "exceeded": bool(budget.get("exceeded"))} if budget else None,
        "report": (Path("..") / folder.name / "report.html").as_posix(),
        "signoff": (Path("..") / folder.name / "record.md").as_posix(),
        "folder": folder.name,
    }


def _section(commit: str, runs: list[tuple[Path, dict[str, Any]]]) -> dict[str, Any]:
    """One deployment (a commit) of the page: its overall verdict, deploy time and runs in the guide's order."""
    runs = sorted(runs, key=lambda r: _phase_key(r[1]))
    phases_run = {str(d.get("phase")) for _, d in runs}
    missing = [p for p in PHASES if p not in phases_run]
    overall = worst((v for _, d in runs if (v := verdict_of(d.get("verdict"))) is not None), Verdict.SUCCESS)
    seen = sorted({str(d["deployed_at"]) for _, d in runs if d.get("deployed_at")})
    deployed = (seen[-1] if seen else "unknown") + (
        f" (runs saw {len(seen)} deploy times: restarts or redeploys of the same build)" if len(seen) > 1 else ""
    )
    return {
        "commit": commit[:12],
        "verdict": overall.upper(),
        "colour": VERDICT_COLOURS.get(overall, "#555"),
        "deployed": deployed,
        "missing": ", ".join(missing) or "none",
        "runs": [_row(folder, data) for folder, data in runs],
    }


def render(env: str, version: str, by_commit: dict[str, list[tuple[Path, dict[str, Any]]]], out_dir: Path) -> str:
    """Return the timeline page of one version of one environment (templates/timeline.html.j2)."""
    newest_first = sorted(
        by_commit.items(), key=lambda kv: max(str(d.get("start", "")) for _, d in kv[1]), reverse=True
    )
    sections = [_section(commit, runs) for commit, runs in newest_first]
    return templating.render("timeline.html.j2", env=env, version=version, sections=sections)


def write(env_dir: Path, version: str) -> Path:
    """Write `<env_dir>/<version>/timeline.html` from every record of that version; return its path."""
    out_dir = env_dir / safe_name(version)
    out_dir.mkdir(parents=True, exist_ok=True)
    page = render(env_dir.name, version, for_deployment(env_dir, version), out_dir)
    path = out_dir / "timeline.html"
    tmp = path.with_suffix(".html.tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(path)
    return path
