"""The weekly restore test: the newest backup restored into a scratch database, checked, dropped.

It writes, on purpose, to a separate restore server (its own DSN and role with CREATEDB):
never to the target database, which is refused by comparing host, port and database name.
The scratch database is dropped in a `finally`, whatever step failed.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg import conninfo, sql

from postdeploy.core.redaction import Secret, redact
from postdeploy.sources.backupfiles import BackupError, Format, chunks, pg_bin, run_fed, sniff

LOCAL_HOSTS = {"", "localhost", "127.0.0.1", "::1"}


class RestoreRefused(Exception):
    """The restore would touch the target database: refused before anything ran."""


@dataclass(frozen=True)
class Where:
    """The database a DSN points at, normalised enough to compare two DSNs."""

    host: str
    port: str
    dbname: str

    def __str__(self) -> str:
        return f"{self.host or 'localhost'}:{self.port} db {self.dbname}"


def where(dsn: str, dbname: str | None = None) -> Where:
    """Return host, port and database of a DSN (libpq defaults filled in)."""
    try:
        parts = conninfo.conninfo_to_dict(dsn)
    except psycopg.ProgrammingError as exc:
        raise RestoreRefused(f"cannot parse DSN {redact(dsn)}: {exc}") from None
    host = str(parts.get("host") or parts.get("hostaddr") or os.environ.get("PGHOST", ""))
    host = "localhost" if host in LOCAL_HOSTS or host.startswith("/") else host.lower()
    port = str(parts.get("port") or os.environ.get("PGPORT") or "5432")
    name = dbname or str(parts.get("dbname") or parts.get("user") or os.environ.get("PGDATABASE", ""))
    return Where(host, port, name)


def refuse_same(target_dsn: str, restore_dsn: str, scratch: str) -> None:
    """Refuse when the restore server's DSN, or the scratch database, is the target database."""
    target = where(target_dsn)
    server = where(restore_dsn)
    if server == target:
        raise RestoreRefused(
            f"refused: the restore DSN points at the target database ({target}); configure a separate [restore] dsn"
        )
    if where(restore_dsn, scratch) == target:
        raise RestoreRefused(f"refused: the scratch database {scratch} would be the target database ({target})")


def scratch_name(prefix: str, now: datetime | None = None) -> str:
    """Return a new scratch database name: prefix, UTC time and pid (lowercase, < 63 bytes)."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d%H%M%S")
    name = re.sub(r"[^a-z0-9_]", "_", f"{prefix}_{stamp}_{os.getpid()}".lower())
    return name[:63]


@dataclass
class RestoreReport:
    """What the restore test did, step by step, with timings: the evidence of the check."""

    scratch: str
    server: str
    steps: list[str] = field(default_factory=list)
    restore_seconds: float | None = None
    counts: dict[str, int] = field(default_factory=dict)
    source_counts: dict[str, int] = field(default_factory=dict)
    alembic: str | None = None
    problems: list[str] = field(default_factory=list)
    created: bool = False
    dropped: bool = False
    error: str = ""


def _connect(dsn: str, password: Secret | None, dbname: str | None, timeout: float) -> psycopg.Connection[Any]:
    kwargs: dict[str, Any] = {
        "connect_timeout": max(1, int(timeout)),
        "autocommit": True,
        "application_name": "postdeploy-restore",
    }
    if password is not None:
        kwargs["password"] = password.reveal()
    if dbname:
        kwargs["dbname"] = dbname
    try:
        return psycopg.connect(dsn, **kwargs)
    except psycopg.OperationalError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BackupError(f"restore server {where(dsn, dbname)}: {redact(first)}") from None


def _client_env(password: Secret | None) -> dict[str, str]:
    # The password travels in the environment of pg_restore/psql, never on a command line.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    if password is not None:
        env["PGPASSWORD"] = password.reveal()
    return env


def _use_list(restore: str, archive: Path, timeout: float, skip_extensions: bool) -> Path | None:
    """Write a pg_restore --use-list without EXTENSION entries (a CREATEDB role may not create them)."""
    if not skip_extensions:
        return None
    try:
        out = subprocess.run(
            [restore, "--list", str(archive)], capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        raise BackupError(f"pg_restore --list did not finish within {timeout:g}s") from None
    if out.returncode != 0:
        raise BackupError(f"pg_restore --list failed: {redact(_error_line(out.stderr))}")
    keep = [ln for ln in out.stdout.splitlines() if not re.search(r"\b(EXTENSION|COMMENT - EXTENSION)\b", ln)]
    listing = archive.with_suffix(".list")
    listing.write_text("\n".join(keep) + "\n")
    return listing


def restore_into(
    backup: Path,
    *,
    dsn: str,
    password: Secret | None,
    scratch: str,
    pg_bin_dir: str,
    timeout: float,
    connect_timeout: float,
    skip_extensions: bool,
    work_dir: str,
    report: RestoreReport,
) -> None:
    """Create the scratch database and restore the backup into it (the caller drops it)."""
    fmt: Format = sniff(backup)
    if fmt.kind == "unknown":
        raise BackupError(f"{backup.name}: content is {fmt}: nothing to restore")
    with _connect(dsn, password, None, connect_timeout) as conn:
        # template0: the dump brings its own objects; template1's extras would collide.
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(scratch)))
    report.created = True
    report.steps.append(f"created scratch database {scratch}")
    target = conninfo.make_conninfo(dsn, dbname=scratch)
    env = _client_env(password)
    started = time.monotonic()
    if fmt.kind == "custom":
        restore = pg_bin(pg_bin_dir, "pg_restore")
        with tempfile.TemporaryDirectory(prefix="postdeploy-restore-", dir=work_dir or None) as tmp:
            # A file, not a pipe: pg_restore needs to seek for --use-list.
            archive = Path(tmp) / "backup.dump"
            with archive.open("wb") as handle:
                for block in chunks(backup, fmt.gzipped):
                    handle.write(block)
            listing = _use_list(restore, archive, timeout, skip_extensions)
            cmd = [restore, "--no-owner", "--no-acl", "--exit-on-error", f"--dbname={target}"]
            if listing is not None:
                cmd.append(f"--use-list={listing}")
            cmd.append(str(archive))
            try:
                out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, check=False)
            except subprocess.TimeoutExpired:
                raise BackupError(f"pg_restore did not finish within {timeout:g}s") from None
            if out.returncode != 0:
                raise BackupError(f"pg_restore failed: {redact(_error_line(out.stderr))}")
    else:
        psql = pg_bin(pg_bin_dir, "psql")
        cmd = [psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", f"--dbname={target}", "-f", "-"]
        code, _, err, _ = run_fed(cmd, portable(chunks(backup, fmt.gzipped), skip_extensions), timeout, env=env)
        if code != 0:
            raise BackupError(f"psql failed restoring plain SQL: {redact(_error_line(err))}")
    report.restore_seconds = round(time.monotonic() - started, 2)
    report.steps.append(f"restored {backup.name} ({fmt}) in {report.restore_seconds:g}s")


EXTENSION_LINE = re.compile(rb"^(CREATE EXTENSION|COMMENT ON EXTENSION)\b")
# What pg_restore's --no-owner --no-acl leave out, as pg_dump writes it in plain SQL (one line each).
OWNER_ACL_LINE = re.compile(rb"^(ALTER [A-Z ]+ .* OWNER TO |GRANT |REVOKE )")


def portable(source: Iterator[bytes], skip_extensions: bool) -> Iterator[bytes]:
    """Filter a plain SQL stream as --no-owner --no-acl would (and drop extensions if asked)."""
    rest = b""

    def keep(line: bytes) -> bool:
        return not OWNER_ACL_LINE.match(line) and not (skip_extensions and EXTENSION_LINE.match(line))

    for block in source:
        lines = (rest + block).split(b"\n")
        rest = lines.pop()
        yield b"".join(line + b"\n" for line in lines if keep(line))
    if rest and keep(rest):
        yield rest


def _error_line(stderr: str) -> str:
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    errors = [ln for ln in lines if "error" in ln.lower()]
    return (errors or lines or ["no message"])[0][:300]


def sanity(
    dsn: str, password: Secret | None, scratch: str, tables: list[str], connect_timeout: float, report: RestoreReport
) -> None:
    """Read alembic_version and the key tables' row counts from the restored copy."""
    with _connect(dsn, password, scratch, connect_timeout) as conn:
        if conn.execute("SELECT to_regclass('public.alembic_version')").fetchone() == (None,):
            report.problems.append("alembic_version table missing in the restored copy")
        else:
            row = conn.execute("SELECT version_num FROM alembic_version LIMIT 1").fetchone()
            report.alembic = row[0] if row else None
            if not row:
                report.problems.append("alembic_version is empty in the restored copy")
        for table in tables:
            if conn.execute("SELECT to_regclass(%s)", (table,)).fetchone() == (None,):
                report.problems.append(f"table {table} missing in the restored copy")
                continue
            count = conn.execute(
                sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(*table.split(".")))
            ).fetchone()
            report.counts[table] = int(count[0]) if count else 0
            if report.counts[table] == 0:
                report.problems.append(f"table {table} has 0 rows in the restored copy")
    report.steps.append("sanity queries ran on the restored copy")


def compare(report: RestoreReport, source: dict[str, int], tolerance: float) -> None:
    """Flag a key table whose restored row count differs from the source's by more than `tolerance`."""
    report.source_counts = dict(source)
    for table, restored in report.counts.items():
        live = source.get(table)
        if live is None or live == 0:
            continue
        if abs(restored - live) / live > tolerance:
            report.problems.append(
                f"table {table}: {restored} rows restored vs {live} in the source (differs by more than {tolerance:.0%})"
            )


def drop(dsn: str, password: Secret | None, scratch: str, connect_timeout: float, report: RestoreReport) -> None:
    """Drop the scratch database (forcing out any session) and confirm it is gone."""
    try:
        with _connect(dsn, password, None, connect_timeout) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(scratch)))
            left = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (scratch,)).fetchone()
        report.dropped = left is None
        report.steps.append(f"dropped scratch database {scratch}" if report.dropped else f"{scratch} still exists")
    except (psycopg.Error, BackupError) as exc:
        report.steps.append(
            f"could not drop {scratch}: {redact(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)}"
        )
