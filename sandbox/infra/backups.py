"""The sandbox's backups, as the reference service's `scripts/backup_database.sh` makes them.

At `up`: a real `pg_dump --format=custom --compress=9` of the amani database, gzipped, into
`<state dir>/backups/amani_backup_YYYYMMDD_HHMMSS.sql.gz`; and a restore role that may
create databases (the weekly restore test's scratch databases; never the read-only role).
Faults: backup_missing, backup_stale, backup_corrupt.
"""

from __future__ import annotations

import gzip
import logging
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

from psycopg import sql

from sandbox.common import state
from sandbox.common.auth import scram_verifier
from sandbox.infra.postgres import PG_BIN, PostgresCluster

RESTORE_USER = "postdeploy_restore"
RESTORE_SECRET = "restore_db_password"
# The maintenance database the restore role connects to; scratch databases are made beside it.
RESTORE_DB = "postgres"
STALE_SECONDS = 26 * 3600  # older than both bounds: pre-deploy 60 min, daily 24 h
# Seconds between two backups of the job (SANDBOX_BACKUP_INTERVAL overrides). The synthetic
# traffic signs up ~0.2 users/s: with a backup a minute, the weekly restore test's row counts
# stay within local.toml's count_tolerance of the source's (10 minutes let users grow 5 -> 50+).
INTERVAL = 60.0
KEEP = 5
# Held by the backup job and by the backup faults, so that neither sees the other half-done.
LOCK = threading.Lock()
log = logging.getLogger("sandbox.backups")


def backup_dir(paths: state.Paths) -> Path:
    return paths.root / "backups"


def ensure_secret(paths: state.Paths) -> str:
    """Create the restore role's password file (0600) once, and return the password."""
    target = paths.secrets_dir / RESTORE_SECRET
    state.ensure_secret_file(target)
    return target.read_text().strip()


def create_restore_role(pg: PostgresCluster, paths: state.Paths) -> None:
    """A login role with CREATEDB only: it makes and drops scratch databases, nothing else."""
    verifier = scram_verifier(ensure_secret(paths))
    with pg.connect("postgres") as conn:
        conn.execute("SET pg_stat_statements.track_utility = off")
        conn.execute("SET log_min_error_statement = panic")
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN CREATEDB PASSWORD {}").format(
                sql.Identifier(RESTORE_USER), sql.Literal(verifier)
            )
        )


def write_backup(pg: PostgresCluster, paths: state.Paths, when: float | None = None) -> Path:
    """Dump the amani database like backup_database.sh: custom format, compress 9, then gzip."""
    folder = backup_dir(paths)
    folder.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d_%H%M%S", time.gmtime(when or time.time()))
    target = folder / f"amani_backup_{stamp}.sql.gz"
    raw = folder / f".{target.stem}.tmp"
    cmd = [
        str(PG_BIN / "pg_dump"),
        "--format=custom",
        "--compress=9",
        f"--file={raw}",
        "-h",
        str(pg.socket_dir),
        "-p",
        str(pg.port),
        "-U",
        "postgres",
        state.DB_NAME,
    ]
    try:
        # A file, not a pipe: the timeout then also ends a dump of a frozen database.
        proc = subprocess.run(cmd, capture_output=True, timeout=60, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"pg_dump failed: {proc.stderr.decode(errors='replace').strip()[:300]}")
        tmp = folder / f".{target.name}.tmp"
        with raw.open("rb") as src, gzip.open(tmp, "wb") as out:
            shutil.copyfileobj(src, out)
        os.replace(tmp, target)
    finally:
        raw.unlink(missing_ok=True)
    return target


def newest(paths: state.Paths) -> Path | None:
    files = sorted(backup_dir(paths).glob("amani_backup_*.sql.gz"))
    return files[-1] if files else None


def apply_fault(name: str, pg: PostgresCluster, paths: state.Paths) -> None:
    """Switch on one backup fault."""
    with LOCK:
        _apply(name, pg, paths)


def _apply(name: str, pg: PostgresCluster, paths: state.Paths) -> None:
    folder = backup_dir(paths)
    if name == "backup_missing":
        for path in folder.glob("*"):
            if path.is_file():
                path.unlink()
    elif name == "backup_stale":
        # Only old backups remain: the newest is renamed and dated as of 26 hours ago.
        for path in folder.glob("amani_backup_*"):
            path.unlink()
        old = time.time() - STALE_SECONDS
        path = write_backup(pg, paths, when=old)
        os.utime(path, (old, old))
    elif name == "backup_corrupt":
        path = newest(paths) or write_backup(pg, paths)
        size = path.stat().st_size
        with path.open("r+b") as handle:
            handle.truncate(max(1, size // 2))


def fresh_backup(pg: PostgresCluster, paths: state.Paths) -> None:
    """Replace whatever is in the folder (an earlier sandbox's backups, a fault's leftovers)
    with one fresh, whole backup."""
    with LOCK:
        folder = backup_dir(paths)
        for path in folder.glob("*"):
            if path.is_file():
                path.unlink()
        write_backup(pg, paths)


class BackupJob:
    """The backup cron job: a fresh backup every `interval` seconds, the newest `keep` kept.

    Without it a sandbox up for more than an hour would fail the 60-minute bound for lack of
    a job, not of a check. It pauses while a backup fault is on (the fault must hold), and
    shares a lock with the faults so that a dump cannot land half-way through one.
    """

    def __init__(self, pg: PostgresCluster, paths: state.Paths, paused: Callable[[], bool]) -> None:
        self.pg, self.paths, self.paused = pg, paths, paused
        self.interval = float(os.environ.get("SANDBOX_BACKUP_INTERVAL", INTERVAL))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="backup-job", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            with LOCK:
                if self.paused() or not self.pg.running() or self.pg.frozen:
                    continue
                try:
                    write_backup(self.pg, self.paths)
                except (OSError, RuntimeError, subprocess.TimeoutExpired) as exc:
                    log.warning("backup job: %s", exc)
                    continue
                for old in sorted(backup_dir(self.paths).glob("amani_backup_*.sql.gz"))[:-KEEP]:
                    old.unlink(missing_ok=True)


def state_keys(paths: state.Paths, pg: PostgresCluster) -> dict[str, object]:
    """state.json's backup and restore keys (never the password: that is a file in secrets/)."""
    return {
        "backup_dir": str(backup_dir(paths)),
        "restore_db_host": state.DB_HOST,
        "restore_db_port": pg.port,
        "restore_db_name": RESTORE_DB,
        "restore_db_user": RESTORE_USER,
    }
