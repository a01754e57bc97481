"""Is the release running? A process (pidfile), a Docker container or Kubernetes pods.

Each runtime answers with a `RuntimeStatus`: running or not, restarting or not, when the
current instance started (the deploy time the log and metric windows start from), and
a line of evidence a person can check by hand.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from postdeploy.config import Runtime
from postdeploy.core.errors import BadResponse, ConfigError
from postdeploy.sources.logsource import run_command


@dataclass(frozen=True)
class RuntimeStatus:
    """What the runtime says about the release."""

    running: bool
    detail: str
    started_at: datetime | None = None
    restarting: bool = False
    restarts: int = 0
    instances: list[str] = field(default_factory=list)


def _boot_time() -> float:
    with open("/proc/stat", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("btime "):
                return float(line.split()[1])
    raise OSError("no btime in /proc/stat")


def process_status(pidfile: str) -> RuntimeStatus:
    """Read a pidfile and ask /proc whether that process lives, and since when."""
    try:
        text = Path(pidfile).read_text(encoding="ascii").strip()
    except OSError as exc:
        return RuntimeStatus(False, f"pidfile {pidfile}: {exc.strerror}: the service is not running")
    if not text.isdigit():
        return RuntimeStatus(False, f"pidfile {pidfile} holds {text[:40]!r}, not a process id")
    pid = int(text)
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return RuntimeStatus(False, f"process {pid} (from {pidfile}) is not running")
    # The command name may hold spaces and parentheses: split after the last ")".
    fields = stat[stat.rindex(")") + 2 :].split()
    state = fields[0]
    if state in ("Z", "X", "x"):
        return RuntimeStatus(False, f"process {pid} (from {pidfile}) has exited (state {state})")
    started_ts = _boot_time() + int(fields[19]) / os.sysconf("SC_CLK_TCK")
    # /proc counts from the kernel's whole-second boot time, which can be a second or two
    # off the wall clock; a pidfile written by this process at start-up is exact.
    try:
        written = Path(pidfile).stat().st_mtime
    except OSError:
        written = 0.0
    if abs(written - started_ts) < 5:
        started_ts = written
    started = datetime.fromtimestamp(started_ts, UTC)
    return RuntimeStatus(
        True, f"process {pid} running since {started:%Y-%m-%d %H:%M:%S} UTC", started, instances=[str(pid)]
    )


def _iso(text: str) -> datetime | None:
    if not text or text.startswith("0001-"):
        return None
    text = re.sub(r"(\.\d{6})\d+", r"\1", text.replace("Z", "+00:00"))
    try:
        return datetime.fromisoformat(text).astimezone(UTC)
    except ValueError:
        return None


def docker_status(cfg: Runtime) -> RuntimeStatus:
    """`docker inspect` the container: running, restarting, restart count, start time."""
    out = run_command(
        ["docker", "inspect", "--format", "{{json .State}} {{.RestartCount}}", cfg.container], cfg.timeout
    )
    try:
        state_json, _, restarts = out.strip().rpartition(" ")
        state = json.loads(state_json)
        count = int(restarts)
    except ValueError:
        raise BadResponse(f"docker inspect {cfg.container}: unexpected output {out[:80]!r}", target="docker") from None
    started = _iso(state.get("StartedAt", ""))
    running = bool(state.get("Running")) and not state.get("Restarting")
    detail = f"container {cfg.container}: status {state.get('Status')}, {count} restarts"
    if state.get("ExitCode"):
        detail += f", last exit code {state['ExitCode']}"
    return RuntimeStatus(running, detail, started, bool(state.get("Restarting")), count, [cfg.container])


def kubectl_status(cfg: Runtime) -> RuntimeStatus:
    """`kubectl get pods -l SELECTOR`: every pod Running and ready, restarts, start time of the oldest."""
    cmd = ["kubectl", "get", "pods", "-l", cfg.selector, "-o", "json"]
    cmd += ["-n", cfg.namespace] if cfg.namespace else []
    cmd += ["--context", cfg.context] if cfg.context else []
    try:
        pods = json.loads(run_command(cmd, cfg.timeout)).get("items", [])
    except ValueError:
        raise BadResponse("kubectl get pods: output is not JSON", target="kubectl") from None
    if not pods:
        return RuntimeStatus(False, f"no pods match -l {cfg.selector}")
    # The deploy time is the start of the oldest current pod: after a rollout every current
    # pod runs the new release, and the metric windows must include the first of them.
    problems, names, restarts, oldest = [], [], 0, None
    for pod in pods:
        name = pod.get("metadata", {}).get("name", "?")
        names.append(name)
        status = pod.get("status", {})
        started = _iso(status.get("startTime", ""))
        oldest = min(filter(None, [oldest, started]), default=None)
        for cs in status.get("containerStatuses", []):
            restarts += int(cs.get("restartCount", 0))
            waiting = (cs.get("state") or {}).get("waiting") or {}
            if waiting.get("reason") in ("CrashLoopBackOff", "Error", "ImagePullBackOff", "ErrImagePull"):
                problems.append(f"{name}: {waiting['reason']}")
            elif not cs.get("ready"):
                problems.append(f"{name}: container {cs.get('name')} not ready")
        if status.get("phase") != "Running":
            problems.append(f"{name}: phase {status.get('phase')}")
    detail = f"{len(pods)} pods -l {cfg.selector}, {restarts} restarts"
    if problems:
        return RuntimeStatus(
            False, detail + ": " + "; ".join(problems), oldest, any("CrashLoop" in p for p in problems), restarts, names
        )
    return RuntimeStatus(True, detail + ", all running and ready", oldest, False, restarts, names)


def status(cfg: Runtime) -> RuntimeStatus:
    """Ask the configured runtime; a runtime that cannot be asked raises `TargetError`."""
    if cfg.kind == "process":
        if not cfg.pidfile:
            raise ConfigError("runtime.kind = 'process' needs runtime.pidfile")
        return process_status(cfg.pidfile)
    if cfg.kind == "docker":
        return docker_status(cfg)
    if cfg.kind == "kubectl":
        return kubectl_status(cfg)
    raise ConfigError(f"runtime.kind {cfg.kind!r} is not one of process, docker, kubectl")
