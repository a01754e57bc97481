"""Start, wait for and stop a Debian-packaged HTTP daemon (Prometheus, Alertmanager)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import IO

import httpx

from sandbox.infra.postgres import PortInUse, pdeathsig_prefix


def launch(argv: list[str], log_file: IO[bytes]) -> subprocess.Popen[bytes]:
    """Start ``argv`` (dying with its parent) with its output appended to ``log_file``."""
    return subprocess.Popen(
        pdeathsig_prefix("TERM") + argv,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )


def wait_ready(
    name: str, proc: subprocess.Popen[bytes], log_file: IO[bytes], log_start: int, port: int, url: str, timeout: float
) -> None:
    """Wait until ``{url}/-/ready`` answers 200.

    Raises PortInUse if the process exited because the port was taken (judged from what it
    logged after ``log_start``), RuntimeError if it exited otherwise or did not answer within
    ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log_file.flush()
            text = Path(log_file.name).read_bytes()[log_start:].decode(errors="replace")
            if "address already in use" in text:
                raise PortInUse(f"port {port} is in use")
            raise RuntimeError(f"{name} exited with {proc.returncode}: {text[-300:]}")
        try:
            if httpx.get(f"{url}/-/ready", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{name} did not answer within {timeout:.0f}s")


def running(proc: subprocess.Popen[bytes] | None) -> bool:
    """Tell whether the process was started and is alive."""
    return proc is not None and proc.poll() is None


def stop(proc: subprocess.Popen[bytes] | None, timeout: float = 10.0) -> None:
    """SIGTERM, then SIGKILL if it takes longer than ``timeout`` seconds."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
