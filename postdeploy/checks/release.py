"""The release itself before it goes out: its change record (P2) and its staging verification (P3)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from postdeploy.checks.advice import advice
from postdeploy.config import Changes, Expected, Staging
from postdeploy.core.results import Result, failed, passed
from postdeploy.run.pastruns import History


class GitError(Exception):
    """git could not answer; the message is one line."""


def git(repo: str, *args: str, timeout: float = 10.0) -> str:
    """Run one git command in `repo` and return its stdout."""
    cmd = ["git", "-C", repo or ".", *args]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except FileNotFoundError:
        raise GitError("git is not installed") from None
    except subprocess.TimeoutExpired:
        raise GitError(f"`git {' '.join(args)}` gave no answer within {timeout:g}s") from None
    if out.returncode != 0:
        first = (out.stderr.strip().splitlines() or ["exit status " + str(out.returncode)])[0]
        raise GitError(f"`git {' '.join(args)}` in {repo or '.'}: {first}")
    return out.stdout


def changes_recorded(cfg: Changes, expected: Expected, previous_commit: str = "") -> Result:
    """Attach `git log --oneline -10` and the diff stat of the release ref; the expected release is known."""
    hint = advice("changes.recorded")
    repo = cfg.repo or str(Path.cwd())
    evidence: dict[str, Any] = {"repo": repo, "ref": cfg.ref}
    try:
        sha = git(repo, "rev-parse", "--verify", f"{cfg.ref}^{{commit}}", timeout=cfg.timeout).strip()
        log = git(repo, "log", "--oneline", "-10", sha, timeout=cfg.timeout).strip()
        base = cfg.base or _base(repo, sha, previous_commit, cfg.timeout)
        stat = git(repo, "diff", "--stat", f"{base}..{sha}", timeout=cfg.timeout).strip() if base else ""
    except GitError as exc:
        return failed(f"change record incomplete: {exc}", evidence=evidence, advice=hint)
    evidence["ref commit"] = sha
    evidence["git log --oneline -10"] = log
    evidence["diff stat"] = f"{base[:12]}..{sha[:12]}\n{stat or '(no changes)'}" if base else "(first commit: no base)"
    evidence["expected version"] = expected.version or "unknown"
    evidence["expected commit"] = expected.commit or "unknown"
    problems = []
    if not expected.version:
        problems.append("expected version unknown: pass --expect-version or set [expected] version")
    if not expected.commit:
        problems.append("expected commit unknown: pass --expect-commit or set [expected] commit")
    elif cfg.repo and not sha.startswith(expected.commit.lower()):
        # Only when the repo is the release's own checkout (configured), a mismatch means something.
        problems.append(f"{cfg.ref} is {sha[:12]}, not the expected commit {expected.commit[:12]}")
    summary = f"{len(log.splitlines())} commits up to {sha[:12]} recorded; " + (
        f"release {expected.version or '?'} ({expected.commit[:12] or '?'})"
    )
    if problems:
        return failed(f"change record: {'; '.join(problems)}", evidence=evidence, advice=hint)
    return passed(summary, value=sha, evidence=evidence)


def _base(repo: str, sha: str, previous_commit: str, timeout: float) -> str:
    """The previous successful release's commit when this repo has it, else the ref's parent."""
    for candidate in (previous_commit, f"{sha}~1"):
        if not candidate:
            continue
        try:
            return git(repo, "rev-parse", "--verify", "--quiet", f"{candidate}^{{commit}}", timeout=timeout).strip()
        except GitError:
            continue
    return ""


def staging_passed(staging: History, version: str, cfg: Staging) -> Result:
    """The newest staging record for the same version has the verdict success."""
    hint = advice("staging.passed")
    evidence: dict[str, Any] = {
        "staging records": str(staging.env_dir),
        "version": version or "unknown",
        "phases": ", ".join(cfg.phases) or "any but pre_deploy",
    }
    if not version:
        return failed(
            "expected version unknown: pass --expect-version so the staging record can be matched",
            evidence=evidence,
            advice=hint,
        )
    newest_other = None
    for folder, data in staging.records():
        phase = data.get("phase")
        if (cfg.phases and phase not in cfg.phases) or (not cfg.phases and phase == "pre_deploy"):
            continue
        if not data.get("complete", True):
            continue
        if data.get("version") != version:
            newest_other = newest_other or (folder, data)
            continue
        evidence["record"] = str(folder)
        evidence["verdict"] = data.get("verdict")
        evidence["ran"] = f"{data.get('start')} to {data.get('end')} by {data.get('who')}"
        if data.get("verdict") == "success":
            return passed(
                f"staging record {folder.name} for {version}: verdict success", value=folder.name, evidence=evidence
            )
        reasons = "; ".join(data.get("verdict_reasons") or []) or "no reasons recorded"
        return failed(
            f"newest staging record for {version} is {folder} with verdict {data.get('verdict')} ({reasons})",
            value=data.get("verdict"),
            threshold="success",
            evidence=evidence,
            advice=hint,
        )
    other = (
        f"; newest staging record found: {newest_other[0]} (version {newest_other[1].get('version')})"
        if newest_other
        else ""
    )
    return failed(
        f"no staging record for version {version} under {staging.env_dir}{other}",
        threshold="success",
        evidence=evidence,
        advice=hint,
    )
