"""The long_query fault: a session of the app's database running one hour-long statement."""

from __future__ import annotations

import logging
import threading

import psycopg

from sandbox.common import state
from sandbox.infra.postgres import PostgresCluster

log = logging.getLogger("sandbox.dbfaults")
# A marker in the statement, so that heal finds exactly this session and nothing else.
LONG_QUERY = "SELECT pg_sleep(3600) /* sandbox fault long_query */"


def start_long_query(pg: PostgresCluster, timeout: float = 5.0) -> None:
    """Open a session of the app's database that runs one hour-long statement; return once it is active."""
    ready = threading.Event()

    def run() -> None:
        try:
            with pg.connect(state.DB_NAME) as conn:
                conn.execute("SET application_name = 'amani-backend'")
                ready.set()
                conn.execute(LONG_QUERY)
        except psycopg.Error as exc:
            # Ended by heal's pg_terminate_backend, or by the database stopping.
            log.info("long_query session ended: %s", str(exc).strip().splitlines()[0] if str(exc).strip() else exc)
        finally:
            ready.set()

    threading.Thread(target=run, name="long-query", daemon=True).start()
    ready.wait(timeout)
    with pg.connect(state.DB_NAME) as conn:
        for _ in range(int(timeout / 0.05)):
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query = %s", (LONG_QUERY,)
            ).fetchone()
            if row and row[0]:
                return
            threading.Event().wait(0.05)
    raise RuntimeError("the long_query session did not become active")


def stop_long_query(pg: PostgresCluster) -> None:
    """Terminate the fault's session, if any (heal)."""
    with pg.connect(state.DB_NAME) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = %s AND pid <> pg_backend_pid()",
            (LONG_QUERY,),
        )
