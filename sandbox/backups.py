"""The sandbox's backups, as the reference service's `scripts/backup_database.sh` makes them.

At `up`: a real `pg_dump --format=custom --compress=9` of the amani database, gzipped, into
`<state dir>/backups/amani_backup_YYYYMMDD_HHMMSS.sql.gz`; and a restore role that may
create databases (the weekly restore test's scratch databases; never the read-only role).
Faults: backup_missing, backup_stale, backup_corrupt.
"""

from __future__ import annotations

import gzip
import os
import secrets
import shutil
import subprocess
import time
from pathlib import Path

from psycopg import sql

from sandbox import state
from sandbox.auth import scram_verifier
from sandbox.postgres import PG_BIN, PostgresCluster

RESTORE_USER = "postdeploy_restore"
RESTORE_SECRET = "restore_db_password"
# The maintenance database the restore role connects to; scratch databases are made beside it.
RESTORE_DB = "postgres"
STALE_SECONDS = 26 * 3600  # older than both bounds: pre-deploy 60 min, daily 24 h
FAULTS = ("backup_missing", "backup_stale", "backup_corrupt")


def backup_dir(paths: state.Paths) -> Path:
    return paths.root / "backups"


def ensure_secret(paths: state.Paths) -> str:
    """Create the restore role's password file (0600) once, and return the password."""
    target = paths.secrets_dir / RESTORE_SECRET
    if not (target.exists() and target.read_text().strip()):
        tmp = target.with_suffix(".tmp")
        tmp.unlink(missing_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(24) + "\n")
        os.replace(tmp, target)
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
    tmp = folder / f".{target.name}.tmp"
    cmd = [
        str(PG_BIN / "pg_dump"),
        "--format=custom",
        "--compress=9",
        "-h",
        str(pg.socket_dir),
        "-p",
        str(pg.port),
        "-U",
        "postgres",
        state.DB_NAME,
    ]
    with gzip.open(tmp, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert proc.stdout is not None
        shutil.copyfileobj(proc.stdout, out)
        _, err = proc.communicate(timeout=60)
    if proc.returncode != 0:
        tmp.unlink(missing_ok=True)
        raise RuntimeError(f"pg_dump failed: {err.decode(errors='replace').strip()[:300]}")
    os.replace(tmp, target)
    return target


def newest(paths: state.Paths) -> Path | None:
    files = sorted(backup_dir(paths).glob("amani_backup_*.sql.gz"))
    return files[-1] if files else None


def apply_fault(name: str, pg: PostgresCluster, paths: state.Paths) -> None:
    """Switch on one backup fault."""
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
    folder = backup_dir(paths)
    for path in folder.glob("*"):
        if path.is_file():
            path.unlink()
    write_backup(pg, paths)


def state_keys(paths: state.Paths, pg: PostgresCluster) -> dict[str, object]:
    """state.json's backup and restore keys (never the password: that is a file in secrets/)."""
    return {
        "backup_dir": str(backup_dir(paths)),
        "restore_db_host": state.DB_HOST,
        "restore_db_port": pg.port,
        "restore_db_name": RESTORE_DB,
        "restore_db_user": RESTORE_USER,
    }
