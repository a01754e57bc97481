"""Figures of the first15 phase against the local sandbox, printed as a table (`make bench`).

Measures the time to verdict (serial and `-n 2`) next to a curl floor, the start-up of the
plugin stack, the requests and logins per run, the time the phase takes against hung
targets next to its bound, and peak memory. It is a benchmark, not a test: it prints what
it measured and stops with an error only when it cannot measure. It injects faults into
the sandbox it uses and heals it after each, so never point `--sandbox-dir` at a sandbox
someone else is using.

    .venv/bin/python bench/first15.py [--sandbox-dir DIR] [--runs 5] [--markdown BENCHMARKS.md]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FLOOR_SCRIPT = Path(__file__).with_name("floor.sh")
# Seconds allowed on top of the hung calls: interpreter and plugin start-up, the checks that
# ask no hung target (runtime, logs, Prometheus, Sentry) and writing the reports.
BOUND_CONSTANT = 5.0
# The floor script's statuses that show it did the suite's work (a floor that got 401s
# or connection errors would be cheaper than the suite for the wrong reason).
FLOOR_EXPECT = {
    "ping": "200",
    "version": "200",
    "health": "200",
    "readiness": "200",
    "openapi": "200",
    "not_found": "404",
    "headers": "200",
    "malformed_login": "4",
    "login": "200",
    "projects": "200",
    "transactions": "200",
    "tls_handshake": "200",
    "redirect": "30",
}
MARK_BEGIN = "<!-- bench:begin (written by bench/first15.py --markdown; edit outside these markers) -->"
MARK_END = "<!-- bench:end -->"
TIMEOUT = 300.0


@dataclass
class Run:
    """One timed command: wall seconds, exit code, output, and the record if it wrote one."""

    seconds: float
    returncode: int
    output: str
    record: dict[str, Any] | None = None

    @property
    def verdict(self) -> str:
        return str(self.record.get("verdict")) if self.record else "no record"


@dataclass
class Bench:
    """The sandbox under measurement, a scratch folder, and the figures gathered so far."""

    sandbox_dir: Path
    scratch: Path
    runs: int
    rows: list[tuple[str, str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def env(self, sandbox_dir: Path | None = None, **extra: str) -> dict[str, str]:
        env = {**os.environ, "POSTDEPLOY_SANDBOX_DIR": str(sandbox_dir or self.sandbox_dir), **extra}
        # An inherited POSTDEPLOY_ENV would make the collect-only start-up load an environment.
        env.pop("POSTDEPLOY_ENV", None)
        return env

    def row(self, figure: str, value: str, note: str = "") -> None:
        self.rows.append((figure, value, note))
        print(f"  {figure:<52} {value:<10} {note}", flush=True)

    def cli(self, *args: str, timeout: float = 180) -> None:
        proc = subprocess.run(
            [sys.executable, "-m", "sandbox", *args],
            cwd=ROOT,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if proc.returncode != 0:
            raise SystemExit(f"bench: `python -m sandbox {' '.join(args)}` failed:\n{proc.stdout}{proc.stderr}")

    def state(self) -> dict[str, Any]:
        return json.loads((self.sandbox_dir / "state.json").read_text())


def pytest_cmd() -> list[str]:
    """Return the `pytest` a user types: the venv's console script, else `python -m pytest`."""
    script = Path(sys.executable).with_name("pytest")
    return [str(script)] if script.exists() else [sys.executable, "-m", "pytest"]


def timed(cmd: list[str], env: dict[str, str], timeout: float = TIMEOUT) -> Run:
    """Run a command from the project root and return its wall time (the whole process)."""
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    return Run(time.perf_counter() - started, proc.returncode, proc.stdout + proc.stderr)


def suite(bench: Bench, reports: Path, *args: str, marks: str = "first15", env: dict[str, str] | None = None) -> Run:
    """Time `pytest -m MARKS --env local --reports-dir=...` and attach the record it wrote."""
    cmd = [*pytest_cmd(), "-m", marks, "--env", "local", f"--reports-dir={reports}", *args]
    run = timed(cmd, env or bench.env())
    latest = reports / "local" / "latest"
    if latest.is_symlink():
        record = json.loads((latest.resolve() / "record.json").read_text())
        # Only a record written by this run counts; `latest` may still point at an older one.
        if record.get("markexpr") == marks and record.get("exit_status") == run.returncode:
            run.record = record
    return run


def median(values: list[float]) -> float:
    return statistics.median(values)


def spread(values: list[float]) -> str:
    return f"min {min(values):.2f}, max {max(values):.2f}, n={len(values)}"


# -- the machine -----------------------------------------------------------------------------


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def suite_commit() -> str:
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain"], capture_output=True, text=True)
    if head.returncode != 0:
        return "unknown"
    return head.stdout.strip() + (" (+ uncommitted changes)" if dirty.stdout.strip() else "")


def machine() -> dict[str, str]:
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": str(os.cpu_count()),
        "cpu": cpu_model(),
        "python": platform.python_version(),
        "os": f"{platform.system()} {platform.release()}",
        "suite commit": suite_commit(),
        "PYTHONDONTWRITEBYTECODE": os.environ.get("PYTHONDONTWRITEBYTECODE", "unset"),
    }


# -- the measurements ------------------------------------------------------------------------


def floor_run(bench: Bench) -> Run:
    """Run the curl floor once and check that it got the answers the suite gets."""
    st = bench.state()
    cmd = [
        "bash",
        str(FLOOR_SCRIPT),
        st["api_url"],
        st["http_url"],
        st["ca_file"],
        st["test_user_email"],
        str(bench.sandbox_dir / "secrets" / "test_user_password"),
    ]
    run = timed(cmd, bench.env())
    got = dict(line.split(" ", 1) for line in run.output.strip().splitlines() if " " in line)
    wrong = {k: got.get(k) for k, want in FLOOR_EXPECT.items() if not str(got.get(k, "")).startswith(want)}
    if run.returncode != 0 or wrong:
        raise SystemExit(f"bench: the floor script did not do the suite's work: {wrong}\n{run.output}")
    return run


def time_to_verdict(bench: Bench, reports: Path) -> dict[str, Any]:
    """Serial, `-n 2` and the floor, interleaved so that drift of the machine hits all three alike."""
    warm = suite(bench, reports)  # untimed: fills the page cache and leaves the api.surface baseline
    if warm.verdict != "success":
        raise SystemExit(f"bench: the healthy sandbox did not pass ({warm.verdict}):\n{warm.output[-3000:]}")
    serial: list[Run] = []
    xdist: list[Run] = []
    floor: list[float] = []
    for _ in range(bench.runs):
        serial.append(suite(bench, reports))
        xdist.append(suite(bench, reports, "-n", "2"))
        floor.append(floor_run(bench).seconds)
    for name, runs in (("serial", serial), ("-n 2", xdist)):
        bad = [r.verdict for r in runs if r.verdict != "success" or r.returncode != 0]
        if bad:
            bench.notes.append(f"first15 {name}: {len(bad)} of {len(runs)} timed runs were not a success: {bad}")
    s = median([r.seconds for r in serial])
    x = median([r.seconds for r in xdist])
    f = median(floor)
    bench.row("first15 time to verdict, serial", f"{s:.2f} s", spread([r.seconds for r in serial]))
    bench.row("first15 time to verdict, -n 2", f"{x:.2f} s", spread([r.seconds for r in xdist]))
    bench.row("floor: the same requests with curl", f"{f:.2f} s", spread(floor) + "; bench/floor.sh")
    bench.row("ratio suite / floor, serial", f"{s / f:.1f} x")
    bench.row("ratio suite / floor, -n 2", f"{x / f:.1f} x")
    return {"serial": serial, "xdist": xdist}


def start_up(bench: Bench) -> None:
    """`pytest --collect-only -q -m first15` with the plugin stack, and whether hypothesis loads."""
    cmd = [*pytest_cmd(), "--collect-only", "-q", "-m", "first15"]
    seconds = [timed(cmd, bench.env()).seconds for _ in range(bench.runs)]
    bench.row("start-up: --collect-only -q -m first15", f"{median(seconds):.2f} s", spread(seconds))
    if os.environ.get("PYTHONDONTWRITEBYTECODE"):
        # Every run then recompiles the plugin modules and re-rewrites the test modules'
        # assertions; a cache outside the checkout shows what a normal shell pays.
        cache = bench.scratch / "pycache"
        env = bench.env(PYTHONPYCACHEPREFIX=str(cache))
        env.pop("PYTHONDONTWRITEBYTECODE")
        timed(cmd, env)  # fills the cache
        warm = [timed(cmd, env).seconds for _ in range(bench.runs)]
        bench.row(
            "start-up, with a bytecode cache", f"{median(warm):.2f} s", spread(warm) + "; PYTHONDONTWRITEBYTECODE unset"
        )
    trace = timed([*cmd, "--trace-config"], bench.env()).output
    # The listing must show a plugin that is loaded, or its silence about hypothesis proves nothing.
    if "xdist.plugin" not in trace:
        raise SystemExit("bench: --trace-config lists no plugins; cannot tell whether hypothesis loads")
    loaded = "_hypothesis_pytestplugin" in trace
    imports = timed([sys.executable, "-X", "importtime", "-m", "pytest", *cmd[-4:]], bench.env()).output
    imported = any(line.rstrip().endswith(" hypothesis") for line in imports.splitlines())
    bench.row(
        "hypothesis pytest plugin loaded",
        "YES (must not be)" if loaded else "no",
        "pyproject addopts: -p no:hypothesispytest; hypothesis module "
        + ("imported at start-up" if imported else "not imported at start-up"),
    )
    if loaded:
        bench.notes.append("the hypothesis pytest plugin is loaded: `-p no:hypothesispytest` is not in effect")


def requests_per_phase(bench: Bench, reports: Path, serial: list[Run], xdist: list[Run]) -> int:
    """API requests and logins per run, from the records; returns the serial first15 request count."""

    def seen(runs: list[Run], key: str) -> str:
        return "/".join(str(v) for v in sorted({int(r.record[key]) for r in runs if r.record}))

    bench.row("API requests, first15 serial", seen(serial, "api_requests"), f"logins per run: {seen(serial, 'logins')}")
    bench.row(
        "API requests, first15 -n 2",
        seen(xdist, "api_requests"),
        f"logins per run: {seen(xdist, 'logins')}; each worker pings once for wait.ready",
    )
    hour = suite(bench, reports, *ATTEST, marks="first_hour")
    if hour.record is None:
        raise SystemExit(f"bench: the first_hour run wrote no record:\n{hour.output[-3000:]}")
    rec = hour.record
    bench.row(
        "API requests, first_hour",
        str(rec["api_requests"]),
        f"logins per run: {rec['logins']}; verdict {rec['verdict']}, {hour.seconds:.2f} s (1 run)",
    )
    if rec["verdict"] != "success":
        bench.notes.append(f"first_hour on the healthy sandbox: verdict {rec['verdict']}: {rec['verdict_reasons']}")
    return max(int(r.record["api_requests"]) for r in serial if r.record)


# Manual items attested, as a person would: a pending one would make every verdict `issues`.
ATTEST = [
    f"--attest={item}=bench: done"
    for item in ("smoke.manual", "team.communicated", "support.channels", "analytics.reviewed")
]
LATER_PHASES = ("first_hour", "first_24h", "daily", "weekly", "pre_deploy")


def previous_release(reports: Path) -> None:
    """A successful record of the previous release: the rollback target pre_deploy looks for."""
    folder = reports / "local" / "20261112T100000Z-first15"
    folder.mkdir(parents=True, exist_ok=True)
    record = {"env": "local", "phase": "first15", "version": "1.4.1", "commit": "4d2e8a1", "verdict": "success"}
    (folder / "record.json").write_text(json.dumps({**record, "complete": True, "checks": [], "end": "20261112T1000"}))


def every_phase(bench: Bench, reports: Path) -> dict[str, int]:
    """Time to verdict and API requests of the later phases (serial, median); returns checks per phase."""
    previous_release(reports)
    checks: dict[str, int] = {}
    for phase in LATER_PHASES:
        runs = [suite(bench, reports, *ATTEST, marks=phase) for _ in range(bench.runs)]
        seconds = [r.seconds for r in runs]
        bad = [r.verdict for r in runs if r.verdict != "success"]
        rec = runs[-1].record or {}
        checks[phase] = len(rec.get("checks", []))
        bench.row(
            f"{phase} time to verdict, serial",
            f"{median(seconds):.2f} s",
            spread(seconds) + f"; {checks[phase]} checks; API requests {rec.get('api_requests')}"
            f" (budget {rec.get('budget', {}).get('limit', '?') if isinstance(rec.get('budget'), dict) else '?'}),"
            f" logins {rec.get('logins')}",
        )
        if bad:
            bench.notes.append(f"{phase}: {len(bad)} of {len(runs)} healthy runs were not a success: {bad}")
    return checks


def hung_later_phases(bench: Bench, reports: Path, checks: dict[str, int]) -> None:
    """Every later phase against db_frozen, app_down and a never-answering API, next to its bound."""
    from postdeploy.config import load_environment
    from postdeploy.run.bounds import phase_bound

    for fault in ("db_frozen", "app_down", "hung socket"):
        for phase in LATER_PHASES:
            limit, formula = phase_bound(load_environment("local", ROOT), checks[phase])
            if fault == "hung socket":
                with hung_listener() as port:
                    run = suite(bench, reports, *ATTEST, marks=phase, env=bench.env(hung_state_dir(bench, port)))
            else:
                bench.cli("fault", fault)
                try:
                    run = suite(bench, reports, *ATTEST, marks=phase)
                finally:
                    bench.cli("heal")
            within = "within" if run.seconds <= limit else "OVER"
            bench.row(
                f"{phase}, {fault}",
                f"{run.seconds:.2f} s",
                f"{within} the bound {limit:.0f} s ({formula}); verdict {run.verdict}",
            )
            if run.seconds > limit:
                bench.notes.append(f"{phase} with {fault} took {run.seconds:.1f} s, over its bound of {limit:.1f} s")


def bound(bench: Bench, api_requests: int) -> tuple[float, str]:
    """The documented bound of a first15 run against hung targets, from environments/local.toml."""
    os.environ["POSTDEPLOY_SANDBOX_DIR"] = str(bench.sandbox_dir)  # local.toml reads the state through it
    from postdeploy.config import load_environment

    env = load_environment("local", ROOT)
    per_call = max(env.api.read_timeout, env.api.connect_timeout)
    attempts, interval = env.wait.attempts, env.wait.interval
    # wait.ready pings up to `attempts` times; every other API request of a healthy run once
    # (its one ping excluded); plus tls.cert's handshake and tls.redirect's plain GET.
    calls = attempts + (api_requests - 1) + 2
    sleeps = (attempts - 1) * interval
    total = calls * per_call + sleeps + BOUND_CONSTANT
    formula = (
        f"{calls} calls x {per_call:g} s (read timeout {env.api.read_timeout:g} s, connect {env.api.connect_timeout:g} s)"
        f" + {attempts - 1} x {interval:g} s wait interval + {BOUND_CONSTANT:g} s"
    )
    return total, formula


@contextmanager
def hung_listener() -> Iterator[int]:
    """A socket that listens and never accepts: the kernel completes the TCP handshake, nobody answers."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(("127.0.0.1", 0))
        # A deep backlog: every connection the run opens stays queued, none may be refused.
        sock.listen(1024)
        yield sock.getsockname()[1]
    finally:
        sock.close()


def hung_state_dir(bench: Bench, port: int) -> Path:
    """A copy of the sandbox's state whose API and plain-HTTP URLs point at the hung socket."""
    folder = bench.scratch / "hung-state"
    folder.mkdir(exist_ok=True)
    st = bench.state()
    st["api_url"] = f"https://127.0.0.1:{port}"
    st["http_url"] = f"http://127.0.0.1:{port}"
    (folder / "state.json").write_text(json.dumps(st, indent=2))
    secrets = folder / "secrets"
    if not secrets.exists():
        secrets.symlink_to(bench.sandbox_dir / "secrets")
    return folder


def hung_targets(bench: Bench, reports: Path, api_requests: int) -> None:
    """The first15 phase against db_frozen, app_down and a socket that never answers, next to its bound."""
    limit, formula = bound(bench, api_requests)
    bench.row("bound against hung targets", f"{limit:.1f} s", formula)
    cases: list[tuple[str, Run]] = []
    for fault in ("db_frozen", "app_down"):
        bench.cli("fault", fault)
        try:
            cases.append((f"fault {fault}", suite(bench, reports)))
        finally:
            bench.cli("heal")
    with hung_listener() as port:
        folder = hung_state_dir(bench, port)
        cases.append(("API + plain HTTP on a never-accepting socket", suite(bench, reports, env=bench.env(folder))))
    for name, run in cases:
        within = "within" if run.seconds <= limit else "OVER"
        bench.row(
            f"first15, {name}",
            f"{run.seconds:.2f} s",
            f"{within} the bound ({run.seconds / limit:.0%}); verdict {run.verdict}, exit {run.returncode}",
        )
        if run.seconds > limit:
            bench.notes.append(f"first15 with {name} took {run.seconds:.1f} s, over its bound of {limit:.1f} s")
        if run.verdict != "rollback":
            bench.notes.append(f"first15 with {name}: verdict {run.verdict}, expected rollback")


def peak_memory(bench: Bench, reports: Path, marks: str = "daily") -> None:
    """Max RSS of one run (default a full daily run), measured by a helper so no other child counts."""
    helper = (
        "import resource, subprocess, sys\n"
        "code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode\n"
        "print(code, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    cmd = [*pytest_cmd(), "-m", marks, "--env", "local", f"--reports-dir={reports}", *ATTEST]
    run = timed([sys.executable, "-c", helper, *cmd], bench.env())
    code, kib = run.output.split()
    bench.row(f'peak RSS, -m "{marks}"', f"{int(kib) / 1024:.0f} MiB", f"serial, one process; exit {code}")


# -- output ----------------------------------------------------------------------------------


def markdown(info: dict[str, str], bench: Bench) -> str:
    lines = [
        MARK_BEGIN,
        "",
        "| machine | |",
        "|---|---|",
        *[f"| {k} | {v} |" for k, v in info.items()],
        "",
        f"Medians of {bench.runs} runs unless the note says otherwise.",
        "",
        "| figure | value | note |",
        "|---|---|---|",
        *[f"| {f} | {v} | {n} |" for f, v, n in bench.rows],
        "",
    ]
    if bench.notes:
        lines += ["Noticed while measuring:", "", *[f"- {n}" for n in bench.notes], ""]
    lines.append(MARK_END)
    return "\n".join(lines)


def write_markdown(path: Path, block: str) -> None:
    """Replace the generated block of `path` (or create the file around it), keeping the rest."""
    text = path.read_text() if path.exists() else f"# Benchmarks\n\n{MARK_BEGIN}\n{MARK_END}\n"
    if MARK_BEGIN not in text or MARK_END not in text:
        text = text.rstrip("\n") + f"\n\n{MARK_BEGIN}\n{MARK_END}\n"
    head, rest = text.split(MARK_BEGIN, 1)
    _, tail = rest.split(MARK_END, 1)
    path.write_text(head + block + tail)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sandbox-dir", type=Path, help="use this running sandbox instead of starting one")
    parser.add_argument("--runs", type=int, default=5, help="runs per median (default 5)")
    parser.add_argument("--first15-only", action="store_true", help="hung targets: first15 only (saves ~2 min)")
    parser.add_argument("--markdown", type=Path, help="also write the figures into this file (e.g. BENCHMARKS.md)")
    args = parser.parse_args(argv)
    if shutil.which("curl") is None:
        raise SystemExit("bench: curl is needed for the floor")
    info = machine()
    print("machine: " + "; ".join(f"{k} {v}" for k, v in info.items()), flush=True)
    with tempfile.TemporaryDirectory(prefix="postdeploy-bench-") as tmp:
        scratch = Path(tmp)
        own = args.sandbox_dir is None
        bench = Bench((scratch / "sandbox") if own else args.sandbox_dir.resolve(), scratch, args.runs)
        print(f"sandbox: {bench.sandbox_dir} ({'started here' if own else 'given'})", flush=True)
        started = time.monotonic()
        try:
            bench.cli("up")
            reports = scratch / "reports"
            timing = time_to_verdict(bench, reports)
            start_up(bench)
            api_requests = requests_per_phase(bench, reports, timing["serial"], timing["xdist"])
            # The daily run first: pre_deploy's load probe would show in its 60 s trend window.
            peak_memory(bench, reports)
            checks = every_phase(bench, reports)
            hung_targets(bench, reports, api_requests)
            if not args.first15_only:
                hung_later_phases(bench, reports, checks)
        finally:
            if own:
                bench.cli("down")
        print(f"measured in {time.monotonic() - started:.0f} s", flush=True)
    for note in bench.notes:
        print(f"NOTE: {note}")
    if args.markdown:
        write_markdown(args.markdown, markdown(info, bench))
        print(f"figures written into {args.markdown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
