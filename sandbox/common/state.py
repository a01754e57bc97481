"""Paths, fixed names and the files the CLI, the supervisor and the app share.

The sandbox keeps two places apart: the state directory (``state.json``, secrets, logs;
it outlives a run so that logs can be read after ``down``) and a throwaway runtime
directory under /tmp (pgdata, Prometheus TSDB, sockets), because Postgres, run as the
``postgres`` user, cannot reach a folder below a 0700 home directory.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import secrets
import signal
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The sandbox package (sandbox/), where its data lives: rules/, contract/, schema.sql.
PACKAGE_DIR = Path(__file__).resolve().parent.parent
REPO_ROOT = PACKAGE_DIR.parent
RULES_FILE = PACKAGE_DIR / "rules" / "amani_backend_alerts.yml"
SCHEMA_FILE = PACKAGE_DIR / "schema.sql"

APP_NAME = "Amani Escrow Backend"
ENVIRONMENT = "sandbox"
PROMETHEUS_JOB = "amani-backend"
DB_HOST = "127.0.0.1"
DB_NAME = "amani"
DB_APP_USER = "amani"
DB_RO_USER = "postdeploy_ro"
SENTRY_ORG = "amani"
SENTRY_PROJECT = "amani-backend"
SENTRY_PROJECT_ID = "4501"
TEST_USER_EMAIL = "synthetic-monitor@amani.test"
TRAFFIC_USER_EMAIL = "traffic-bot@amani.test"
UNVERIFIED_USER_EMAIL = "pending-user@amani.test"

# Ports below the ephemeral range (32768-60999 here), which other programs use.
PORT_RANGE = (20000, 32767)


@dataclass(frozen=True)
class Release:
    """One build of the service, as /api/v1/version reports it."""

    version: str
    commit_sha: str
    build_time: str
    build_number: str
    build_branch: str = "main"


CURRENT_RELEASE = Release("1.4.2", "9b1c4e7f2a3d5b6c8e0f1a2b3c4d5e6f7a8b9c0d", "2026-11-26T18:04:11Z", "142")
PREVIOUS_RELEASE = Release("1.4.1", "4d2e8a1b7c9f0e3d5a6b8c1f2e4d7a9b0c3e5f61", "2026-11-12T09:41:37Z", "139")

# Files in secrets/: the first four are the documented interface; the rest are the
# sandbox's own and are read only by its processes.
PUBLIC_SECRETS = ("test_user_password", "db_password", "sentry_token", "app_db_password")
PRIVATE_SECRETS = ("traffic_user_password", "unverified_user_password", "jwt_secret", "postgres_password")


@dataclass(frozen=True)
class Paths:
    """Every file of one state directory."""

    root: Path

    @property
    def state_file(self) -> Path:
        return self.root / "state.json"

    @property
    def secrets_dir(self) -> Path:
        return self.root / "secrets"

    @property
    def app_log(self) -> Path:
        return self.root / "app.log"

    @property
    def app_stdout_log(self) -> Path:
        return self.root / "app.stdout.log"

    @property
    def supervisor_log(self) -> Path:
        return self.root / "supervisor.log"

    @property
    def postgres_log(self) -> Path:
        return self.root / "postgres.log"

    @property
    def prometheus_log(self) -> Path:
        return self.root / "prometheus.log"

    @property
    def app_pidfile(self) -> Path:
        return self.root / "app.pid"

    @property
    def faults_file(self) -> Path:
        return self.root / "faults.json"

    @property
    def faults_ack(self) -> Path:
        return self.root / "faults.ack"

    # The app's TLS material, made at every `up` (sandbox/certs.py).
    @property
    def tls_dir(self) -> Path:
        return self.root / "tls"

    @property
    def ca_file(self) -> Path:
        return self.tls_dir / "ca.pem"

    @property
    def server_cert(self) -> Path:
        return self.tls_dir / "server.pem"

    @property
    def expiring_cert(self) -> Path:
        return self.tls_dir / "server-expiring.pem"

    @property
    def server_key(self) -> Path:
        return self.tls_dir / "server.key"


def default_paths() -> Paths:
    """Resolve the state directory from POSTDEPLOY_SANDBOX_DIR or the repo's .sandbox."""
    configured = os.environ.get("POSTDEPLOY_SANDBOX_DIR")
    root = Path(configured).expanduser() if configured else REPO_ROOT / ".sandbox"
    return Paths(root.resolve())


def ensure_secrets(paths: Paths) -> None:
    """Create the state directory and any missing secret, keeping existing ones."""
    paths.root.mkdir(parents=True, exist_ok=True)
    paths.secrets_dir.mkdir(mode=0o700, exist_ok=True)
    os.chmod(paths.secrets_dir, 0o700)
    for name in PUBLIC_SECRETS + PRIVATE_SECRETS:
        ensure_secret_file(paths.secrets_dir / name)


def ensure_secret_file(target: Path) -> None:
    """Write a fresh random secret to ``target`` (0600) unless it already holds one."""
    if target.exists() and target.read_text().strip():
        return
    # O_EXCL with 0600 so the value is never readable by others, not even briefly.
    tmp = target.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_urlsafe(24) + "\n")
    os.replace(tmp, target)


def read_secret(paths: Paths, name: str) -> str:
    """Return one secret's value."""
    return (paths.secrets_dir / name).read_text().strip()


def write_secret(paths: Paths, name: str, value: str) -> None:
    """Write one secret file (0600 from the start) that a component made at start-up."""
    paths.secrets_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    target = paths.secrets_dir / name
    tmp = target.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value + "\n")
    os.replace(tmp, target)


def read_state(paths: Paths) -> dict[str, Any] | None:
    """Return state.json's content, or None when there is none (or it is unreadable)."""
    try:
        data = json.loads(paths.state_file.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_json_atomic(target: Path, data: Any) -> None:
    """Write JSON through a rename so that readers never see half a file."""
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, target)


def pick_port(exclude: set[int] | None = None) -> int:
    """Return a port in PORT_RANGE that was free on 127.0.0.1 a moment ago."""
    taken = exclude or set()
    for _ in range(200):
        port = random.randint(*PORT_RANGE)
        if port in taken:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port found in {PORT_RANGE[0]}-{PORT_RANGE[1]}")


def pid_alive(pid: int | None) -> bool:
    """Tell whether a process exists and is not a zombie (kill -0 succeeds on zombies)."""
    if not pid or pid <= 0:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def proc_cmdline(pid: int) -> str:
    """Return a process's command line joined by spaces, or '' when it is gone."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace")


def child_pids(parent: int) -> list[int]:
    """List the direct children of a process by scanning /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == parent:
            found.append(int(entry.name))
    return found


def kill_quietly(pid: int, sig: signal.Signals) -> None:
    """Send a signal, ignoring a process that is already gone."""
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def utc_iso(timestamp: float | None = None) -> str:
    """Format a Unix time as ISO-8601 UTC with seconds precision."""
    when = dt.datetime.fromtimestamp(
        dt.datetime.now(dt.UTC).timestamp() if timestamp is None else timestamp,
        dt.UTC,
    )
    return when.replace(microsecond=0).isoformat()
