"""Log and runtime sources: docker and kubectl through stand-in commands on PATH, pidfiles for real."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from postdeploy.checks import logs as log_checks
from postdeploy.config import Logs, Runtime
from postdeploy.core.errors import TargetError, TargetUnreachable
from postdeploy.sources.logsource import LogSource
from postdeploy.sources.runtime import process_status, status

DEPLOYED = datetime(2026, 11, 27, 1, 0, 0, tzinfo=UTC)


def fake_command(folder: Path, name: str, script: str) -> None:
    """Put an executable `name` on a PATH folder that logs its arguments and prints `script`'s output."""
    path = folder / name
    path.write_text(f'#!/bin/sh\necho "$@" > "{folder}/{name}.args"\n{script}\n')
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


@pytest.fixture
def fake_path(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    return tmp_path


def test_docker_logs_with_timestamps_since_deploy(fake_path):
    fake_command(
        fake_path,
        "docker",
        "cat <<'EOF'\n"
        '2026-11-27T01:00:01.000000000Z {"asctime": "2026-11-27 01:00:01", "levelname": "INFO", "message": "Starting Amani Escrow Backend..."}\n'
        '2026-11-27T01:00:02.000000000Z {"asctime": "2026-11-27 01:00:02", "levelname": "INFO", "message": "Database initialized successfully"}\n'
        "2026-11-27T01:00:03.000000000Z ERROR:    Exception in ASGI application\n"
        "2026-11-27T01:00:03.100000000Z Traceback (most recent call last):\n"
        "EOF",
    )
    source = LogSource(Logs(kind="docker", container="amani-backend"))
    assert log_checks.startup(source, DEPLOYED).ok
    result = log_checks.clean(source, DEPLOYED)
    assert result.outcome == "failed" and "Exception in ASGI application" in result.summary
    args = (fake_path / "docker.args").read_text()
    assert args.split() == ["logs", "--timestamps", "--since", "2026-11-27T01:00:00Z", "amani-backend"]


def test_kubectl_logs_command_reads_every_pod_since_deploy(fake_path):
    fake_command(
        fake_path, "kubectl", "echo '[pod/amani-1/app] 2026-11-27T01:00:05Z 2026-11-27 01:00:05 - app.main - INFO - hi'"
    )
    source = LogSource(Logs(kind="kubectl", selector="app=amani-backend", namespace="prod"))
    lines = source.read(DEPLOYED)
    assert [ln.message for ln in lines] == ["hi"]
    args = (fake_path / "kubectl.args").read_text().split()
    assert "--tail=-1" in args and "--since-time=2026-11-27T01:00:00Z" in args and args[-2:] == ["-n", "prod"]


def test_a_failing_runtime_command_is_a_target_error_not_a_crash(fake_path):
    fake_command(fake_path, "docker", "echo 'Error: No such container: amani-backend' >&2; exit 1")
    with pytest.raises(TargetError, match="No such container"):
        LogSource(Logs(kind="docker", container="amani-backend")).read(DEPLOYED)


def test_missing_binary_says_so(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(TargetUnreachable, match="kubectl is not installed"):
        status(Runtime(kind="kubectl", selector="app=x"))


def test_docker_inspect_restarting_container_is_not_running(fake_path):
    state = {
        "Status": "restarting",
        "Running": True,
        "Restarting": True,
        "StartedAt": "2026-11-27T01:00:00.123456789Z",
        "ExitCode": 1,
    }
    fake_command(fake_path, "docker", f"echo '{json.dumps(state)} 4'")
    got = status(Runtime(kind="docker", container="amani-backend"))
    assert not got.running and got.restarting and got.restarts == 4
    assert got.started_at == datetime(2026, 11, 27, 1, 0, 0, 123456, tzinfo=UTC)


def test_kubectl_crashloop_pod_is_not_running(fake_path):
    pods = {
        "items": [
            {
                "metadata": {"name": "amani-a"},
                "status": {
                    "phase": "Running",
                    "startTime": "2026-11-27T01:00:00Z",
                    "containerStatuses": [{"name": "app", "ready": True, "restartCount": 0, "state": {"running": {}}}],
                },
            },
            {
                "metadata": {"name": "amani-b"},
                "status": {
                    "phase": "Running",
                    "startTime": "2026-11-27T01:00:09Z",
                    "containerStatuses": [
                        {
                            "name": "app",
                            "ready": False,
                            "restartCount": 5,
                            "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                        }
                    ],
                },
            },
        ]
    }
    fake_command(fake_path, "kubectl", f"cat <<'EOF'\n{json.dumps(pods)}\nEOF")
    got = status(Runtime(kind="kubectl", selector="app=amani-backend"))
    assert not got.running and "amani-b: CrashLoopBackOff" in got.detail and got.restarts == 5
    assert got.started_at == datetime(2026, 11, 27, 1, 0, 0, tzinfo=UTC)


def test_pidfile_of_a_live_and_a_dead_process(tmp_path):
    # A real live process for the pidfile to name (killed below; it never runs its 30 s).
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        (tmp_path / "app.pid").write_text(str(proc.pid))
        live = process_status(str(tmp_path / "app.pid"))
        assert live.running and live.started_at is not None
        assert abs((datetime.now(UTC) - live.started_at).total_seconds()) < 10
    finally:
        proc.kill()
        proc.wait()
    dead = process_status(str(tmp_path / "app.pid"))
    assert not dead.running and "is not running" in dead.detail
    assert "not running" in process_status(str(tmp_path / "missing.pid")).detail


def test_log_file_that_vanished_is_a_target_error(tmp_path):
    with pytest.raises(TargetUnreachable, match="No such file"):
        LogSource(Logs(kind="file", path=str(tmp_path / "gone.log"))).read(None)


def test_non_utf8_log_lines_are_read_not_fatal(tmp_path):
    log = tmp_path / "app.log"
    log.write_bytes(b'{"asctime": "2026-11-27 01:00:01", "levelname": "ERROR", "message": "bad \xff byte"}\n')
    result = log_checks.clean(LogSource(Logs(kind="file", path=str(log))), DEPLOYED)
    assert result.outcome == "failed" and result.value == 1
