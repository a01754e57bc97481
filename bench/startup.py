"""CPU of `pytest --collect-only -m first15 --env prod` next to a one-test run on the same plugin stack.

Start-up must not grow as the suite does: this measures the CPU seconds (user + system, of
the pytest process and its children) of the collection of the first15 phase against the
production environment file (fake secrets in the environment, nothing is contacted), and,
as the yardstick, of a pytest run of one trivial test in an empty folder with the same
plugins loaded. CPU time, not wall time, so a busy machine blurs the figures less. Pass
`--other CHECKOUT` to measure an older checkout (with its own .venv) side by side.

    .venv/bin/python bench/startup.py [--runs 15] [--other /tmp/old-checkout]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SECRETS = {"AMANI_TEST_PASSWORD": "x", "AMANI_DB_PASSWORD": "x", "SENTRY_AUTH_TOKEN": "x"}
ONE_TEST = "def test_one():\n    assert True\n"


def cpu_of(cmd: list[str], cwd: Path) -> float:
    """Run `cmd` and return the CPU seconds it and its children used."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(cmd, cwd=cwd, env={**os.environ, **SECRETS}, capture_output=True, text=True, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode not in (0, 5):
        raise SystemExit(f"{' '.join(cmd)} in {cwd} failed ({proc.returncode}): {proc.stdout[-500:]}{proc.stderr[-500:]}")
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def measure(checkout: Path, runs: int) -> tuple[float, float]:
    """Return the median CPU seconds of the first15 collection and of a one-test run."""
    pytest = str(checkout / ".venv" / "bin" / "pytest")
    collect = [pytest, "--collect-only", "-q", "-m", "first15", "--env", "prod", "-p", "no:cacheprovider"]
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "test_one.py").write_text(ONE_TEST)
        # The same plugin stack as the collection: the project disables hypothesis' pytest plugin.
        one = [pytest, "-q", "-p", "no:cacheprovider", "-p", "no:hypothesispytest", "test_one.py"]
        cpu_of(collect, checkout)  # warm the file cache
        cpu_of(one, Path(tmp))
        collected = [cpu_of(collect, checkout) for _ in range(runs)]
        yardstick = [cpu_of(one, Path(tmp)) for _ in range(runs)]
    return statistics.median(collected), statistics.median(yardstick)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--other", type=Path, help="an older checkout with its own .venv, measured beside this one")
    args = parser.parse_args(argv)
    rows = [("this checkout", ROOT)] + ([("other: " + str(args.other), args.other)] if args.other else [])
    print(f"median CPU seconds over {args.runs} runs (user + system)")
    print(f"{'checkout':<40} {'collect -m first15':>20} {'one-test run':>14} {'ratio':>7}")
    for label, checkout in rows:
        collect, one = measure(checkout, args.runs)
        print(f"{label:<40} {collect:>20.3f} {one:>14.3f} {collect / one:>7.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
