"""Helpers of the end-to-end self-tests: a sandbox of their own, and runs of the real suite."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import httpx

from postdeploy.run.runmodel import Outcome

ROOT = Path(__file__).resolve().parent.parent
T = TypeVar("T")


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
        return {k for k, v in self.outcomes().items() if Outcome(v).bad}

    def text(self, check_id: str) -> str:
        """Everything the record says about a check, as one string to search."""
        return json.dumps(self.check(check_id))


@dataclass
class Sandbox:
    """A running sandbox in a state folder of its own."""

    folder: Path
    env: dict[str, str]

    def _module(self, module: str, args: tuple[str, ...], timeout: float) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", module, *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def cli(self, *args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
        """`python -m sandbox ARGS` against this sandbox."""
        return self._module("sandbox", args, timeout)

    def cli_postdeploy(self, *args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        """`python -m postdeploy ARGS` as a pipeline runs it."""
        return self._module("postdeploy", args, timeout)

    def state(self) -> dict[str, Any]:
        return json.loads((self.folder / "state.json").read_text())

    @staticmethod
    def suite_cmd(reports: Path, *args: str, marks: str = "first15", env: str = "local") -> list[str]:
        """`pytest -m MARKS --env ENV --reports-dir=REPORTS ARGS` (add -q yourself)."""
        # The = form: pytest picks its rootdir before plugin options are known, and would
        # take a separate existing path argument for a test path.
        return [sys.executable, "-m", "pytest", "-m", marks, "--env", env, f"--reports-dir={reports}", *args]

    def refused(self, reports: Path, *args: str, marks: str = "first15") -> subprocess.CompletedProcess[str]:
        """A suite run expected to stop at start-up (a usage error): bounded, output captured."""
        cmd = self.suite_cmd(reports, *args, marks=marks)
        return subprocess.run(cmd, cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=60, check=False)

    def start_suite(self, reports: Path, *args: str, marks: str = "first15") -> subprocess.Popen[str]:
        """A suite run in the background (a watch to act on while it runs); output on its stdout."""
        return subprocess.Popen(
            self.suite_cmd(reports, *args, marks=marks),
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            # SIGINT back to its default: a test run started in the background of a shell
            # (`make test &`, CI harnesses) inherits SIGINT ignored, and Python then never
            # raises KeyboardInterrupt; a Ctrl-C sent to the run would be lost.
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )

    def run_suite(
        self, reports: Path, *args: str, marks: str = "first15", timeout: float = 180, env: str = "local"
    ) -> Run:
        cmd = self.suite_cmd(reports, "-q", "-rfEs", *args, marks=marks, env=env)
        started = time.monotonic()
        proc = subprocess.run(cmd, cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=timeout, check=False)
        seconds = time.monotonic() - started
        latest = reports / env / "latest"
        assert latest.is_symlink(), f"no latest run folder; output:\n{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}"
        folder = latest.resolve()
        record = json.loads((folder / "record.json").read_text())
        return Run(proc.returncode, proc.stdout + proc.stderr, record, folder, seconds)

    def promql(self, query: str) -> float | None:
        """Return the first value of an instant query to the sandbox's Prometheus (None: empty)."""
        st = self.state()
        response = httpx.get(f"{st['prometheus_url']}/api/v1/query", params={"query": query}, timeout=5)
        response.raise_for_status()
        result = response.json()["data"]["result"]
        return float(result[0]["value"][1]) if result else None

    def scraped_after(self, moment: float) -> bool:
        """Whether Prometheus holds a scrape of the app taken after `moment` (epoch seconds)."""
        last = self.promql(f'max(timestamp(up{{job="{self.state()["prometheus_job"]}"}}))')
        return last is not None and last > moment

    def run_until(
        self,
        reports: Path,
        *args: str,
        marks: str = "first15",
        done: Callable[[Run], bool],
        bound: float,
    ) -> Run:
        """Run the suite until `done(run)` holds or `bound` seconds have passed; return the last run.

        For a fault that shows in live metrics: the traffic must meet the fault and Prometheus
        scrape it, which takes longer on a busy machine. The caller asserts on the run returned,
        so a fault never caught fails with the last run's evidence.
        """
        return repeat_until(self, lambda: self.run_suite(reports, *args, marks=marks), done, bound)

    def fault(self, *names: str) -> float:
        """Switch faults on (the CLI returns once they are in effect); return the time they were."""
        for name in names:
            proc = self.cli("fault", name)
            assert proc.returncode == 0, proc.stdout + proc.stderr
        return time.time()

    def heal(self) -> None:
        healed = self.cli("heal", timeout=120)
        assert healed.returncode == 0, healed.stdout + healed.stderr


def repeat_until(box: Sandbox, attempt: Callable[[], T], done: Callable[[T], bool], bound: float) -> T:
    """Call `attempt` until `done` holds of its result or `bound` seconds pass; return the last result."""
    deadline = time.monotonic() + bound
    while True:
        result = attempt()
        if done(result) or time.monotonic() > deadline:
            return result
        # Bounded poll: one more scrape of the app before the next attempt.
        wait_for("a scrape of the app", partial(box.scraped_after, time.time()), 30)


def wait_live_data(box: Sandbox, since: float, seconds: float, what: str) -> None:
    """Wait until the app has run `seconds` past `since` and Prometheus scraped it after that.

    The windows the checks judge hold the live app's samples, which take real time to exist;
    on a busy machine scrapes lag, hence the scrape condition, bounded.
    """
    wait_for(
        what,
        lambda: time.time() >= since + seconds and box.scraped_after(since + seconds),
        seconds + 60,
    )


def wait_for(what: str, condition: Callable[[], bool], bound: float, interval: float = 0.2) -> None:
    """Poll `condition` until it holds; fail naming `what` when `bound` seconds pass first."""
    deadline = time.monotonic() + bound
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {bound:.0f} s for {what}, in vain")
        time.sleep(interval)  # bounded poll on a condition of the sandbox's own processes


def sandbox_env(folder: Path) -> dict[str, str]:
    """The environment of a sandbox in `folder` and of the suite runs against it: runs of their
    own, not workers of the self-tests' xdist (the suite reads PYTEST_XDIST_WORKER_COUNT to
    share its request pacing), with no --env of the caller's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_XDIST_", "PYTEST_CURRENT_TEST"))}
    env["POSTDEPLOY_SANDBOX_DIR"] = str(folder)
    env.pop("POSTDEPLOY_ENV", None)
    return env


def start(folder: Path, *up_args: str) -> Sandbox:
    box = Sandbox(folder, sandbox_env(folder))
    proc = box.cli("up", *up_args, timeout=120)
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


def seed_history(reports: Path, state: dict[str, Any], *, staging: bool = True, env: str = "local") -> None:
    """Write earlier records as the suite writes them: a successful run of the previous release
    (the rollback target) and, with `staging`, the staging verification of this one (the local
    environment stands in for its own staging)."""
    seeds = [("20261112T100000Z-first15", *PREVIOUS_RELEASE)]
    if staging:
        seeds.append(("20261126T190000Z-first15", state["expected_version"], state["expected_commit"]))
    for name, version, commit in seeds:
        folder = reports / env / name
        folder.mkdir(parents=True, exist_ok=True)
        record = {
            "env": env,
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
    """Wait until the release has run `seconds` and Prometheus has scraped it since (each heal redeploys)."""
    deployed = datetime.fromisoformat(box.state()["deployed_at"]).timestamp()
    wait_live_data(box, deployed, seconds, f"the release to be {seconds:.0f} s old and scraped")


def backdate_size_history(reports: Path, seconds: float, env: str = "local") -> None:
    """Move every db.size record of `reports/<env>/history.jsonl` `seconds` into the past.

    capacity needs a span of history (`[capacity] min_span`): made here with explicit
    timestamps, not by waiting for the clock between two runs.
    """
    path = reports / env / "history.jsonl"
    lines = []
    for line in path.read_text().splitlines():
        data = json.loads(line)
        data["epoch"] -= seconds
        data["ts"] = datetime.fromtimestamp(data["epoch"], UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        lines.append(json.dumps(data, separators=(",", ":")))
    path.write_text("".join(f"{line}\n" for line in lines))


def seed_size_history(box: Sandbox, reports: Path, age: float, env: str = "local") -> None:
    """Write one db.size record `age` seconds old with the database's size now (no growth since)."""
    import psycopg

    st = box.state()
    password = (box.folder / "secrets" / "db_password").read_text().strip()
    dsn = f"host={st['db_host']} port={st['db_port']} dbname={st['db_name']} user={st['db_user']}"
    with psycopg.connect(dsn, password=password, connect_timeout=5) as conn:
        row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
    assert row is not None
    epoch = time.time() - age
    record = {
        "ts": datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "epoch": round(epoch, 3),
        "kind": "db.size",
        "env": env,
        "database": st["db_name"],
        "size_bytes": int(row[0]),
        "tables": [],
    }
    path = reports / env / "history.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as out:
        out.write(json.dumps(record, separators=(",", ":")) + "\n")


# -- runs many times in a row (the false-alarm schedule, the watched soak) -------------------------
BAD = ("failed", "error", "inconclusive")


def runs_wanted(var: str, default: int) -> int:
    """The number of runs from the environment variable `var` (default `default`); ValueError says why."""
    raw = os.environ.get(var, str(default))
    try:
        runs = int(raw)
    except ValueError:
        raise ValueError(f"{var}={raw!r}: expected a whole number of runs") from None
    if runs < 1:
        raise ValueError(f"{var}={raw!r}: at least one run")
    return runs


def sandbox_status(box: Sandbox) -> dict[str, Any]:
    """The supervisor's own view: faults switched on, and whether the synthetic traffic runs."""
    response = httpx.get(f"{box.state()['control_url']}/status", timeout=5)
    response.raise_for_status()
    return response.json()


def describe(run: Run) -> str:
    """Say which checks failed and why, in the words of the record, for the assertion message."""
    record = run.record
    lines = [
        f"verdict {record.get('verdict')}, exit code {run.returncode}, {run.seconds:.1f} s, report {run.folder}",
        *[f"  reason: {reason}" for reason in record.get("verdict_reasons", [])],
    ]
    bad = [c for c in record.get("checks", []) if c.get("outcome") in BAD]
    lines += [f"  {c['id']} ({c['outcome']}, {c.get('severity', '?')}): {c.get('summary', '')}" for c in bad]
    if not bad:
        # No check to blame (a crash, a usage error): the output is the only evidence.
        lines.append(run.output[-3000:])
    return "\n".join(lines)
