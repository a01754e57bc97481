"""Run a command while a second sandbox burns both cores (`make test-stress`).

The self-tests must not depend on the machine keeping pace: this starts a sandbox of its
own in a temporary folder, switches on its `cpu_burn` fault (threads hashing in parallel,
both cores busy), runs the command given after `--`, then takes the sandbox down. It
prints the command's wall time and exits with the command's exit code.

    .venv/bin/python bench/stress.py -- .venv/bin/pytest selftests -q
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def sandbox(env: dict[str, str], *args: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "sandbox", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180
    )
    if proc.returncode != 0:
        raise SystemExit(f"stress: python -m sandbox {' '.join(args)} failed: {(proc.stderr or proc.stdout).strip()}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", nargs=argparse.REMAINDER, help="the command to run under load, after --")
    args = parser.parse_args(argv)
    command = [a for a in args.command if a != "--"] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command to run after --")
    folder = tempfile.mkdtemp(prefix="postdeploy-hog-", dir="/tmp")
    env = {**os.environ, "POSTDEPLOY_SANDBOX_DIR": folder}
    try:
        sandbox(env, "up")
        sandbox(env, "fault", "cpu_burn")
        print(f"stress: a second sandbox in {folder} burns CPU (cpu_burn); running {' '.join(command)}", flush=True)
        started = time.monotonic()
        code = subprocess.run(command, cwd=ROOT, check=False).returncode
        print(f"stress: exit code {code}, wall time {time.monotonic() - started:.0f} s under load", flush=True)
        return code
    finally:
        subprocess.run([sys.executable, "-m", "sandbox", "down"], cwd=ROOT, env=env, capture_output=True, timeout=120)
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
