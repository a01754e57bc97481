"""Database sessions that cannot write: psycopg 3, read-only, with a statement timeout."""

from __future__ import annotations

import psycopg

from postdeploy.config import Database, Duration
from postdeploy.core.errors import TargetTimeout, TargetUnreachable
from postdeploy.core.redaction import redact


def connect(cfg: Database) -> psycopg.Connection:
    """Open a session whose every transaction is READ ONLY and whose statements time out.

    Read-only is set twice on purpose: as the session default (so a user-level
    `SET` cannot be forgotten) and on the connection object, which makes psycopg
    start each transaction with `BEGIN READ ONLY`.
    """
    timeout_ms = int(cfg.statement_timeout * 1000)
    options = f"-c default_transaction_read_only=on -c statement_timeout={timeout_ms} -c idle_in_transaction_session_timeout=60000"
    kwargs: dict[str, object] = {
        "connect_timeout": max(1, int(cfg.connect_timeout)),
        "application_name": cfg.application_name,
        "options": options,
    }
    if cfg.password is not None:
        kwargs["password"] = cfg.password.reveal()
    try:
        conn = psycopg.connect(cfg.dsn, **kwargs)  # type: ignore[arg-type]
    except psycopg.OperationalError as exc:
        text = redact(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)
        where = redact(cfg.dsn)
        if "timeout" in text.lower():
            raise TargetTimeout(f"database {where}: {text}", target=where) from None
        raise TargetUnreachable(f"database {where}: {text}", target=where) from None
    conn.read_only = True
    return conn


PROBE_LIMIT = 5.0


def probe(cfg: Database, limit: float = PROBE_LIMIT) -> str:
    """Ask the database directly whether it answers, bounded by `limit` s for connect and statement.

    Called when an API call hung: says whether the database is the likely cause.
    """
    import dataclasses
    import time

    bound = min(cfg.connect_timeout, limit)
    bounded = dataclasses.replace(
        cfg,
        connect_timeout=Duration(bound),
        statement_timeout=Duration(min(cfg.statement_timeout, limit)),
        application_name="postdeploy-probe",
    )
    where = redact(cfg.dsn)
    started = time.monotonic()
    try:
        conn = connect(bounded)
    except TargetTimeout:
        took = time.monotonic() - started
        return f"the database does not answer within {max(bound, 1):g} s: the likely cause (connect timed out after {took:.1f} s; {where})"
    except TargetUnreachable as exc:
        return f"the database cannot be reached ({exc}): the likely cause"
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1")
    except psycopg.errors.QueryCanceled:
        return f"the database does not answer within {bounded.statement_timeout:g} s: the likely cause (SELECT 1 timed out; {where})"
    except psycopg.Error as exc:
        return f"the database answers with an error ({redact(str(exc).strip().splitlines()[0])}): the likely cause"
    finally:
        conn.close()
    took = (time.monotonic() - started) * 1000
    return f"the database answers (connect + SELECT 1 in {took:.0f} ms): the service itself hangs, not its database"
