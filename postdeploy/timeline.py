"""One timeline per deployment: every phase run for an env + version + commit on one page.

`reports/<env>/<version>/timeline.html` gathers the records of that version (one section
per commit, newest first), so the first-24-hours sign-off is made from one page: per run
the phase, when it ran, its verdict, the checks that failed, the requests against the
budget and a link to the run's report. Regenerated at the end of every run, and by
`python -m postdeploy timeline`. Self-contained: no script, no network.
"""

from __future__ import annotations

import html
import re
from datetime import datetime
from pathlib import Path
from typing import Any

from postdeploy.pastruns import record_folders
from postdeploy.redaction import redact
from postdeploy.runmodel import BAD, Verdict, verdict_of, worst
from postdeploy.terms import PHASES, VERDICT_COLOURS


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


def _row(folder: Path, data: dict[str, Any], out_dir: Path) -> str:
    verdict = str(data.get("verdict", "?"))
    bad = [c for c in data.get("checks", []) if c.get("outcome") in BAD]
    failed = (
        "<ul>"
        + "".join(
            f"<li><b>{html.escape(str(c.get('id')))}</b> ({html.escape(str(c.get('severity', '?')))}, "
            f"{html.escape(str(c.get('outcome')))}): {html.escape(str(c.get('summary', ''))[:240])}</li>"
            for c in bad
        )
        + "</ul>"
        if bad
        else "none"
    )
    budget = data.get("budget") or {}
    requests = f"{data.get('api_requests', 0)}"
    if budget:
        requests += f" / {budget.get('limit')}" + (" <b>exceeded</b>" if budget.get("exceeded") else "")
    counts = ", ".join(f"{v} {k}" for k, v in sorted((data.get("counts") or {}).items()))
    link = Path("..") / folder.name / "report.html"
    signoff = Path("..") / folder.name / "record.md"
    return (
        f"<tr><td>{html.escape(str(data.get('phase')))}</td>"
        f"<td>{html.escape(_when(data.get('start')))}<br><small>{html.escape(_since_deploy(data))}"
        f"{data.get('duration_s', '?')} s, "
        f"by {html.escape(str(data.get('who', '?')))}</small></td>"
        f'<td style="color:{VERDICT_COLOURS.get(verdict, "#555")}"><b>{html.escape(verdict.upper())}</b><br>'
        f"<small>{html.escape(counts)}</small></td>"
        f"<td>{failed}</td><td>{requests}</td>"
        f'<td><a href="{html.escape(link.as_posix())}">report</a> · '
        f'<a href="{html.escape(signoff.as_posix())}">sign-off</a><br><small>{html.escape(folder.name)}</small></td></tr>'
    )


def render(env: str, version: str, by_commit: dict[str, list[tuple[Path, dict[str, Any]]]], out_dir: Path) -> str:
    """Return the timeline page of one version of one environment."""
    sections = []
    newest_first = sorted(
        by_commit.items(), key=lambda kv: max(str(d.get("start", "")) for _, d in kv[1]), reverse=True
    )
    for commit, runs in newest_first:
        runs = sorted(runs, key=lambda r: _phase_key(r[1]))
        phases_run = {str(d.get("phase")) for _, d in runs}
        missing = [p for p in PHASES if p not in phases_run]
        overall = worst((v for _, d in runs if (v := verdict_of(d.get("verdict"))) is not None), Verdict.SUCCESS)
        seen = sorted({str(d["deployed_at"]) for _, d in runs if d.get("deployed_at")})
        deployed = (seen[-1] if seen else "unknown") + (
            f" (runs saw {len(seen)} deploy times: restarts or redeploys of the same build)" if len(seen) > 1 else ""
        )
        sections.append(
            f"<h2>Commit <code>{html.escape(commit[:12])}</code> "
            f'<span style="color:{VERDICT_COLOURS.get(overall, "#555")}">{html.escape(overall.upper())}</span></h2>'
            f"<p>Deployed at: <b>{html.escape(deployed)}</b>. Runs: {len(runs)}. "
            f"Phases not run yet: {html.escape(', '.join(missing) or 'none')}.</p>"
            "<table><tr><th>Phase</th><th>Ran at (UTC), since the deploy</th><th>Verdict</th><th>Failed / inconclusive checks</th>"
            "<th>API requests / budget</th><th>Report</th></tr>"
            + "".join(_row(folder, data, out_dir) for folder, data in runs)
            + "</table>"
        )
    body = "".join(sections) or "<p>No run recorded for this version yet.</p>"
    return redact(
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>postdeploy timeline: {html.escape(env)} {html.escape(version)}</title>"
        "<style>body{font-family:sans-serif;margin:1.5em;max-width:1200px}table{border-collapse:collapse;width:100%}"
        "td,th{border:1px solid #ccc;padding:4px 8px;vertical-align:top;text-align:left}th{background:#f3f3f3}"
        "ul{margin:0;padding-left:1.2em}</style></head><body>"
        f"<h1>Deployment timeline: {html.escape(env)}, version {html.escape(version or 'unknown')}</h1>"
        "<p>Every phase run for this deployment, in the guide's order (pre-deployment, first 15 minutes, "
        "first hour, first 24 hours, daily, weekly); the sign-off of the first 24 hours is made from this page.</p>"
        + body
        + "</body></html>"
    )


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
