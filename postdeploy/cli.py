"""The command line beside pytest: `python -m postdeploy verdict [RECORD]` for pipelines, `checks` for the catalog.

Exit codes of `verdict`: 0 success, 1 issues, 2 rollback, 3 incomplete (a run that judged no
check, or did not finish: killed, its record lists the checks it completed) or no readable
record, 4 a usage error of this command. pytest's
own exit code stays pytest's; this is what a pipeline gates a rollout on.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path
from typing import NoReturn

from postdeploy import catalog
from postdeploy.run.runmodel import EXIT, NO_RECORD, USAGE, Outcome, RunRecord

__all__ = ["EXIT", "NO_RECORD", "USAGE", "main"]  # the exit codes belong to the run model (runmodel.py)
SHOWN = 3  # reasons printed by `verdict`; the blocked checks are counted after them
BLOCKED_LINE = re.compile(r"^\d+ check\(s\) blocked by ")


def newest_record(reports: Path) -> Path | None:
    """Return the newest record.json under `reports/<env>/<run>/`, by its run folder's time stamp."""
    found = [p for p in reports.glob("*/*/record.json") if not p.parent.is_symlink()]
    return max(found, key=_run_time) if found else None


def _run_time(record: Path) -> tuple[str, float]:
    """A run's start stamp (its folder's name up to the phase), then the record's age: two runs of a second."""
    return (record.parent.name.split("-")[0], record.stat().st_mtime)


def _verdict_of(record: Path) -> str | None:
    try:
        data = json.loads(record.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data.get("verdict") if isinstance(data, dict) else None


def env_record(env_dir: Path) -> Path | None:
    """The record an environment's verdict is: `latest`, unless a newer run judged nothing.

    `latest` points at the last run with a real verdict (a run that judged no check leaves it
    alone). A newer run that is incomplete (a usage error, nothing selected, killed before its
    first check) is the answer instead: `pytest -m firstt15; python -m postdeploy verdict`
    must exit 3, never report the previous run's success. A newer run that is not
    incomplete (latest was not moved to it) does not override `latest`.
    """
    found = [p for p in env_dir.glob("*/record.json") if not p.parent.is_symlink()]
    newest = max(found, key=_run_time) if found else None
    latest = env_dir / "latest" / "record.json"
    if not latest.is_file():
        return newest
    if newest is None:
        return latest
    pointed = latest.resolve()
    if newest.resolve() != pointed and _run_time(newest) > _run_time(pointed) and _verdict_of(newest) == "incomplete":
        return newest
    return pointed  # the run folder itself, so that the line printed names the run


def record_path(args: argparse.Namespace) -> Path | None:
    """The record.json that RECORD names, else the newest environment's; None, said, if none.

    RECORD may be a record.json, its run folder, an environment's folder (`reports/local`:
    its `latest`, or a newer run that judged nothing, see `env_record`) or the reports folder
    itself (the environment of the newest run, the same way).
    """
    reports = Path(args.record) if args.record else Path(args.reports)
    if args.record and not reports.is_dir():
        if not reports.exists():
            print(f"postdeploy: no record.json in {reports}: no such file or folder", file=sys.stderr)
            return None
        return reports
    if (reports / "record.json").exists():
        return reports / "record.json"
    if any(p.is_file() for p in reports.glob("*/record.json")) or (reports / "latest").exists():
        env_dir: Path | None = reports  # an environment's folder
    else:
        newest = newest_record(reports)  # the reports folder: the environment of the newest run
        env_dir = newest.parent.parent if newest is not None else None
    path = env_record(env_dir) if env_dir is not None else None
    if path is None:
        where = (
            f"{reports} (a run folder, an environment's folder or reports/)"
            if args.record
            else f"{reports}/<env>/<run>/"
        )
        print(f"postdeploy: no record.json in {where}", file=sys.stderr)
    return path


def verdict(args: argparse.Namespace) -> int:
    path = record_path(args)
    if path is None:
        return NO_RECORD
    try:
        record = RunRecord.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        print(f"postdeploy: {path}: not a readable record ({type(exc).__name__}: {exc})", file=sys.stderr)
        return NO_RECORD
    print(
        f"{record.verdict.upper()}  env {record.env}  phase {record.phase}  version {record.version or '?'}  ({path})"
    )
    if record.coverage:
        print(f"  covered: {record.coverage}")
    reasons = [r for r in record.verdict_reasons if not BLOCKED_LINE.match(r)]
    for reason in reasons[:SHOWN]:
        print(f"  - {reason}")
    if len(reasons) > SHOWN:
        print(f"  and {len(reasons) - SHOWN} more reason(s): see {path.parent / 'record.md'}")
    blocked = [c for c in record.checks if c.outcome is Outcome.BLOCKED]
    if blocked:
        roots = sorted({c.blocked_by for c in blocked})
        print(f"  and {len(blocked)} blocked (by {', '.join(roots)})")
    return record.verdict.exit_code


def timeline_cmd(args: argparse.Namespace) -> int:
    """Write the timeline of a deployment: the one of a given record, or of --env/--version, or the newest."""
    from postdeploy.outputs import timeline

    reports = Path(args.reports)
    if args.env and args.version is not None:
        env_dir, version = reports / args.env, args.version
    else:
        path = record_path(args)
        if path is None:
            return NO_RECORD
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            version = str(data.get("version") or "")
        except (OSError, ValueError, AttributeError) as exc:
            print(f"postdeploy: {path}: not a readable record ({type(exc).__name__}: {exc})", file=sys.stderr)
            return NO_RECORD
        env_dir = path.resolve().parent.parent
    if not env_dir.is_dir():
        print(f"postdeploy: no folder {env_dir}", file=sys.stderr)
        return NO_RECORD
    out = timeline.write(env_dir, version)
    runs = sum(len(r) for r in timeline.for_deployment(env_dir, version).values())
    print(f"timeline of {env_dir.name} {version or '(no version)'}: {runs} run(s) -> {out}")
    return 0


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error exits 4 (pytest's usage error), not 2 (the code of rollback)."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(USAGE, f"{self.prog}: error: {message}\n")


def main(argv: list[str] | None = None) -> int:
    parser = Parser(prog="python -m postdeploy", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    v = sub.add_parser(
        "verdict",
        help="print a record's verdict; exit 0 success, 1 issues, 2 rollback, 3 incomplete or no record, 4 usage error",
    )
    v.add_argument(
        "record",
        nargs="?",
        help="a record.json, its run folder or an environment's folder (its latest, or a newer incomplete run); "
        "default: the environment of the newest run under --reports",
    )
    v.add_argument("--reports", default="reports", help="the reports folder (default: reports)")
    v.set_defaults(func=verdict)
    t = sub.add_parser("timeline", help="write reports/<env>/<version>/timeline.html: every phase run of a deployment")
    t.add_argument("record", nargs="?", help="a record.json or its run folder (default: the newest under --reports)")
    t.add_argument("--reports", default="reports", help="the reports folder (default: reports)")
    t.add_argument("--env", help="the environment (with --version, instead of a record)")
    t.add_argument("--version", help="the deployed version (with --env)")
    t.set_defaults(func=timeline_cmd)
    c = sub.add_parser("checks", help="list the catalog of checks (every check id, its phases, item, severity)")
    c.add_argument("--phase", choices=catalog.PHASES, help="only the checks of this phase")
    c.add_argument("--markdown", action="store_true", help="a Markdown table (the README's columns)")
    c.set_defaults(func=checks_cmd)
    args = parser.parse_args(argv)
    try:
        code = int(args.func(args))
        sys.stdout.flush()
    except BrokenPipeError:
        # `python -m postdeploy checks | head`: the reader left; no traceback for that. Point
        # stdout at /dev/null so the interpreter's own flush at exit cannot raise it again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return code


def checks_cmd(args: argparse.Namespace) -> int:
    """Print the catalog: plain lines, or the Markdown table of the README."""
    print(catalog.table(phase=args.phase) if args.markdown else catalog.listing(args.phase))
    return 0
