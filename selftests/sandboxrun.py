"""Helpers of the end-to-end self-tests: a sandbox of their own, and runs of the real suite."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Run:
    """One run of the suite: its exit code, output and record."""

    returncode: int
    output: str
    record: dict[str, Any]
    folder: Path
    seconds: float

    def check(self, check_id: str) -> dict[str, Any]:
        found = [c for c in self.record["checks"] if c.get("id") == check_id]
        assert found, f"no check {check_id} in the record; checks: {[c.get('id') for c in self.record['checks']]}"
        return found[0]

    def outcomes(self) -> dict[str, str]:
        return {c["id"]: c["outcome"] for c in self.record["checks"]}

    def failed(self) -> set[str]:
        return {k for k, v in self.outcomes().items() if v in ("failed", "error", "inconclusive")}

    def text(self, check_id: str) -> str:
        """Everything the record says about a check, as one string to search."""
        return json.dumps(self.check(check_id))


@dataclass
class Sandbox:
    """A running sandbox in a state folder of its own."""

    folder: Path
    env: dict[str, str]

    def cli(self, *args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "sandbox", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def cli_postdeploy(self, *args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        """`python -m postdeploy ARGS` as a pipeline runs it."""
        return subprocess.run(
            [sys.executable, "-m", "postdeploy", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def state(self) -> dict[str, Any]:
        return json.loads((self.folder / "state.json").read_text())

    def run_suite(self, reports: Path, *args: str, marks: str = "first15", timeout: float = 180) -> Run:
        cmd = [
            sys.executable,
            "-m",
            "pytest",
            "-m",
            marks,
            "--env",
            "local",
            # The = form: pytest picks its rootdir before plugin options are known, and would
            # take a separate existing path argument for a test path.
            f"--reports-dir={reports}",
            "-q",
            "-rfEs",
            *args,
        ]
        started = time.monotonic()
        proc = subprocess.run(cmd, cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=timeout, check=False)
        seconds = time.monotonic() - started
        latest = reports / "local" / "latest"
        assert latest.is_symlink(), f"no latest run folder; output:\n{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}"
        folder = latest.resolve()
        record = json.loads((folder / "record.json").read_text())
        return Run(proc.returncode, proc.stdout + proc.stderr, record, folder, seconds)


def start(folder: Path) -> Sandbox:
    env = {**os.environ, "POSTDEPLOY_SANDBOX_DIR": str(folder)}
    env.pop("POSTDEPLOY_ENV", None)
    box = Sandbox(folder, env)
    proc = box.cli("up", timeout=120)
    if proc.returncode != 0:
        log = folder / "supervisor.log"
        tail = log.read_text()[-3000:] if log.exists() else ""
        raise RuntimeError(f"sandbox up failed:\n{proc.stdout}\n{proc.stderr}\n{tail}")
    return box


# Every manual item attested, as a person would after doing it: a run that must reach
# `success` passes these (a pending attestation makes the verdict `issues`).
ATTESTED = (
    "--attest",
    "smoke.manual=qa@amani: clicked through login and escrow on staging",
    "--attest",
    "team.communicated=lead@amani: posted in #releases",
    "--attest",
    "support.channels=selftest: no complaints in #support",
    "--attest",
    "analytics.reviewed=selftest: sign-ups and escrow moves as usual",
)
PREVIOUS_RELEASE = ("1.4.1", "4d2e8a1b7c9f0e3d5a6b8c1f2e4d7a9b0c3e5f61")


def seed_history(reports: Path, state: dict[str, Any], *, staging: bool = True) -> None:
    """Write earlier records as the suite writes them: a successful run of the previous release
    (the rollback target) and, with `staging`, the staging verification of this one (the local
    environment stands in for its own staging)."""
    seeds = [("20261112T100000Z-first15", *PREVIOUS_RELEASE)]
    if staging:
        seeds.append(("20261126T190000Z-first15", state["expected_version"], state["expected_commit"]))
    for name, version, commit in seeds:
        folder = reports / "local" / name
        folder.mkdir(parents=True, exist_ok=True)
        record = {
            "env": "local",
            "phase": "first15",
            "version": version,
            "commit": commit,
            "verdict": "success",
            "verdict_reasons": [],
            "complete": True,
            "checks": [],
            "end": name[:15],
        }
        (folder / "record.json").write_text(json.dumps(record))


def wait_release_age(box: Sandbox, seconds: float) -> None:
    """Sleep until the sandbox's release has been up `seconds` (each heal redeploys it)."""
    deployed = datetime.fromisoformat(box.state()["deployed_at"]).timestamp()
    time.sleep(max(0.0, deployed + seconds - time.time()))
