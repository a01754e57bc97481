"""A throwaway PostgreSQL 15 cluster run as a child process, plus its database faults."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import IO, Any

import psycopg
from psycopg import sql

from sandbox.common import state
from sandbox.common.auth import scram_verifier
from sandbox.infra.seed import MIGRATION_VERSION, SeedPasswords, seed

PG_BIN = Path("/usr/lib/postgresql/15/bin")
log = logging.getLogger("sandbox.postgres")


class PortInUse(RuntimeError):
    """The chosen port was taken between picking it and binding it."""


def as_postgres_user() -> dict[str, Any]:
    """Popen arguments that drop to the postgres user, which initdb/postgres need as root."""
    if os.geteuid() != 0:
        return {}
    return {"user": "postgres", "group": "postgres", "extra_groups": []}


def pdeathsig_prefix(signame: str) -> list[str]:
    """Command prefix that makes a child die with its parent, if setpriv is available."""
    setpriv = shutil.which("setpriv")
    return [setpriv, f"--pdeathsig={signame}", "--"] if setpriv else []


class PostgresCluster:
    """One cluster under a runtime directory, started with `postgres` as our own child."""

    def __init__(self, runtime_dir: Path, log_file: IO[bytes]) -> None:
        self.pgdata = runtime_dir / "pg"
        # Short and shallow: the socket path must stay under 107 bytes.
        self.socket_dir = runtime_dir / "s"
        self.runtime_dir = runtime_dir
        self.log_file = log_file
        self.port: int | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        self.frozen = False

    # -- lifecycle -------------------------------------------------------------------
    def initdb(self, superuser_password: str) -> None:
        """Create the cluster: trust on the socket, SCRAM on TCP."""
        self.socket_dir.mkdir(exist_ok=True)
        pwfile = self.runtime_dir / "pwfile"
        fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(superuser_password + "\n")
        if os.geteuid() == 0:
            for path in (self.runtime_dir, self.socket_dir, pwfile):
                shutil.chown(path, "postgres", "postgres")
        try:
            result = subprocess.run(
                [
                    str(PG_BIN / "initdb"),
                    "-D",
                    str(self.pgdata),
                    "-U",
                    "postgres",
                    "--auth-local=trust",
                    "--auth-host=scram-sha-256",
                    "-E",
                    "UTF8",
                    "--locale=C.UTF-8",
                    "--no-sync",
                    f"--pwfile={pwfile}",
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                timeout=60,
                check=False,
                **as_postgres_user(),
            )
        finally:
            pwfile.unlink(missing_ok=True)
        if result.returncode != 0:
            tail = result.stdout.decode(errors="replace").strip().splitlines()[-5:]
            raise RuntimeError("initdb failed: " + " | ".join(tail))

    def start(self, port: int, timeout: float = 15.0) -> None:
        """Start the postmaster on 127.0.0.1:port and wait until it accepts connections."""
        self.port = port
        command = pdeathsig_prefix("INT") + [
            str(PG_BIN / "postgres"),
            "-D",
            str(self.pgdata),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            f"port={port}",
            "-c",
            f"unix_socket_directories={self.socket_dir}",
            "-c",
            "shared_preload_libraries=pg_stat_statements",
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off",
        ]
        log_start = self.log_file.tell() if self.log_file.seekable() else 0
        self.proc = subprocess.Popen(
            command,
            stdout=self.log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            **as_postgres_user(),
        )
        self.frozen = False
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.log_file.flush()
                text = Path(self.log_file.name).read_bytes()[log_start:].decode(errors="replace")
                if "could not bind" in text or "Address already in use" in text:
                    raise PortInUse(f"port {port} is in use")
                raise RuntimeError(f"postgres exited with {self.proc.returncode}: {text[-300:]}")
            try:
                with self.connect("postgres", connect_timeout=1):
                    return
            except psycopg.OperationalError:
                time.sleep(0.05)
        raise RuntimeError(f"postgres did not accept connections within {timeout:.0f}s")

    def running(self) -> bool:
        """Tell whether the postmaster process is alive (frozen counts as alive)."""
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        """Fast shutdown (SIGINT), then SIGKILL if it takes too long."""
        if not self.running():
            return
        assert self.proc is not None
        if self.frozen:
            self.thaw()
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning("postgres ignored SIGINT; killing it")
            for pid in state.child_pids(self.proc.pid):
                state.kill_quietly(pid, signal.SIGKILL)
            self.proc.kill()
            self.proc.wait(5)

    def freeze(self) -> None:
        """SIGSTOP the postmaster first (so it forks nothing new), then its children."""
        if not self.running() or self.frozen:
            return
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGSTOP)
        for pid in state.child_pids(self.proc.pid):
            state.kill_quietly(pid, signal.SIGSTOP)
        self.frozen = True

    def thaw(self) -> None:
        """SIGCONT the children, then the postmaster."""
        if self.proc is None:
            return
        for pid in state.child_pids(self.proc.pid):
            state.kill_quietly(pid, signal.SIGCONT)
        state.kill_quietly(self.proc.pid, signal.SIGCONT)
        self.frozen = False

    def status(self) -> str:
        """Describe the cluster in one word."""
        if self.proc is None:
            return "not started"
        if self.proc.poll() is not None:
            return "stopped"
        return "frozen" if self.frozen else "running"

    # -- SQL -------------------------------------------------------------------------
    def connect(self, dbname: str = "postgres", connect_timeout: int = 5) -> psycopg.Connection:
        """Connect as the superuser through the Unix socket (trust auth)."""
        return psycopg.connect(
            host=str(self.socket_dir),
            port=self.port,
            user="postgres",
            dbname=dbname,
            autocommit=True,
            connect_timeout=connect_timeout,
        )

    def provision(self, paths: state.Paths) -> None:
        """Create roles, the amani database, its schema and seed data."""
        with self.connect("template1") as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        with self.connect("postgres") as conn:
            # Role DDL is kept out of pg_stat_statements and the error log: postdeploy_ro
            # can read both, and neither may ever hold a password, not even a hashed one.
            conn.execute("SET pg_stat_statements.track_utility = off")
            conn.execute("SET log_min_error_statement = panic")
            app_verifier = scram_verifier(state.read_secret(paths, "app_db_password"))
            ro_verifier = scram_verifier(state.read_secret(paths, "db_password"))
            conn.execute(
                sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                    sql.Identifier(state.DB_APP_USER), sql.Literal(app_verifier)
                )
            )
            conn.execute(
                sql.SQL("CREATE ROLE {} LOGIN PASSWORD {} IN ROLE pg_read_all_stats, pg_read_all_data").format(
                    sql.Identifier(state.DB_RO_USER), sql.Literal(ro_verifier)
                )
            )
            conn.execute(
                sql.SQL("ALTER ROLE {} SET default_transaction_read_only = on").format(sql.Identifier(state.DB_RO_USER))
            )
            conn.execute(
                sql.SQL("CREATE DATABASE {} OWNER {}").format(
                    sql.Identifier(state.DB_NAME), sql.Identifier(state.DB_APP_USER)
                )
            )
            # PUBLIC may create temp tables by default; the read-only role must write nothing.
            conn.execute(sql.SQL("REVOKE TEMPORARY ON DATABASE {} FROM PUBLIC").format(sql.Identifier(state.DB_NAME)))
            conn.execute(
                sql.SQL("GRANT TEMPORARY ON DATABASE {} TO {}").format(
                    sql.Identifier(state.DB_NAME), sql.Identifier(state.DB_APP_USER)
                )
            )
        passwords = SeedPasswords(
            test_user=state.read_secret(paths, "test_user_password"),
            traffic_user=state.read_secret(paths, "traffic_user_password"),
            unverified_user=state.read_secret(paths, "unverified_user_password"),
        )
        with self.connect(state.DB_NAME) as conn:
            # Objects must belong to the app's role, as they would after its migrations.
            conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(state.DB_APP_USER)))
            conn.execute(state.SCHEMA_FILE.read_text())
            seed(conn, passwords)
            conn.execute("RESET ROLE")
            conn.execute("SELECT pg_stat_statements_reset()")

    def execute(self, statement: str, params: tuple[Any, ...] = ()) -> None:
        """Run one statement in the amani database as its owner, failing fast on locks."""
        with self.connect(state.DB_NAME) as conn:
            conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(state.DB_APP_USER)))
            conn.execute("SET lock_timeout = '5s'")
            conn.execute(statement, params)  # type: ignore[arg-type]

    def table_exists(self, name: str) -> bool:
        """Tell whether a table exists in the amani database's public schema."""
        with self.connect(state.DB_NAME) as conn:
            row = conn.execute("SELECT to_regclass(%s)", (f"public.{name}",)).fetchone()
        return bool(row and row[0])

    def remove_migration_row(self) -> None:
        """The migrations_missing fault: empty alembic_version."""
        self.execute("DELETE FROM alembic_version")

    def hide_table(self) -> None:
        """The table_missing fault: rename a table readiness requires."""
        self.execute("ALTER TABLE wallet_registry RENAME TO wallet_registry_hidden")

    def restore(self) -> None:
        """Undo the database faults, whatever state they left behind."""
        if self.table_exists("wallet_registry_hidden") and not self.table_exists("wallet_registry"):
            self.execute("ALTER TABLE wallet_registry_hidden RENAME TO wallet_registry")
        self.execute(
            "INSERT INTO alembic_version (version_num) SELECT %s WHERE NOT EXISTS (SELECT 1 FROM alembic_version)",
            (MIGRATION_VERSION,),
        )

    def reset_statement_stats(self) -> None:
        """Forget pg_stat_statements' history (after a heal, once the old app is gone).

        Statements slowed by slow_query, or stuck while the server was frozen, would
        otherwise top the slow-query list long after the fault is gone.
        """
        with self.connect(state.DB_NAME) as conn:
            conn.execute("SELECT pg_stat_statements_reset()")
