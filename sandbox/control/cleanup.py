"""Record of the supervisor's processes, and removal of what a dead supervisor left behind.

The supervisor keeps ``runtime.json`` in the state directory from its first moment (before
state.json exists), so that ``down`` or the next ``up`` can find its children and its /tmp
directory even if it was killed half-way.
"""

from __future__ import annotations

import json
import shutil
import signal
import time
from pathlib import Path
from typing import Any

from sandbox.common import state


def runtime_file(paths: state.Paths) -> Path:
    return paths.root / "runtime.json"


def write_runtime(
    paths: state.Paths,
    supervisor_pid: int,
    runtime_dir: Path | None,
    pids: dict[str, int | None],
) -> None:
    """Record the supervisor, its children and its runtime directory."""
    state.write_json_atomic(
        runtime_file(paths),
        {
            "supervisor_pid": supervisor_pid,
            "data_dir": str(runtime_dir) if runtime_dir else None,
            "pids": pids,
        },
    )


def read_runtime(paths: state.Paths) -> dict[str, Any]:
    """Return runtime.json's content, or {}."""
    try:
        data = json.loads(runtime_file(paths).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def remove_state_files(paths: state.Paths) -> None:
    """Remove the files that describe a running sandbox (logs and secrets stay)."""
    for target in (paths.state_file, runtime_file(paths), paths.faults_file, paths.faults_ack, paths.app_pidfile):
        target.unlink(missing_ok=True)


def _ours(pid: int, data_dir: str | None, paths: state.Paths) -> bool:
    """Guard against a recycled pid: the command line must point at this sandbox."""
    cmdline = state.proc_cmdline(pid)
    if not cmdline:
        return False
    return bool((data_dir and data_dir in cmdline) or str(paths.root) in cmdline)


def kill_leftovers(paths: state.Paths) -> list[int]:
    """Kill the recorded supervisor and children that still run; return their pids."""
    runtime = read_runtime(paths)
    data_dir = runtime.get("data_dir")
    candidates = [runtime.get("supervisor_pid")] + list((runtime.get("pids") or {}).values())
    if data_dir:
        postmaster = Path(data_dir) / "pg" / "postmaster.pid"
        try:
            candidates.append(int(postmaster.read_text().split()[0]))
        except (OSError, ValueError, IndexError):
            pass
    killed = []
    for pid in candidates:
        if not isinstance(pid, int) or not state.pid_alive(pid):
            continue
        if not _ours(pid, data_dir, paths):
            continue
        # A frozen postgres must be woken for its children to notice its death.
        family = [pid] + state.child_pids(pid)
        for member in family:
            state.kill_quietly(member, signal.SIGCONT)
            state.kill_quietly(member, signal.SIGKILL)
        killed.extend(family)
    deadline = time.monotonic() + 5
    while any(state.pid_alive(pid) for pid in killed) and time.monotonic() < deadline:
        time.sleep(0.05)
    return killed


def clean_stale(paths: state.Paths) -> None:
    """Kill leftovers, remove the /tmp runtime directory and the state files."""
    runtime = read_runtime(paths)
    kill_leftovers(paths)
    data_dir = runtime.get("data_dir") or (state.read_state(paths) or {}).get("data_dir")
    # Only ever delete a directory this sandbox created.
    if data_dir and Path(data_dir).name.startswith("sbx-") and Path(data_dir).parent == Path("/tmp"):
        shutil.rmtree(data_dir, ignore_errors=True)
    remove_state_files(paths)
