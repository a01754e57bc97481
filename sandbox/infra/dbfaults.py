"""Supervisor-side faults for the database and Sentry checks: long_query, sentry_new_type."""

from __future__ import annotations

import datetime as dt
import logging
import threading

import psycopg

from sandbox.infra.postgres import PostgresCluster
from sandbox.standins.sentry import Issue, SentryStore

log = logging.getLogger("sandbox.dbfaults")
# A marker in the statement, so that heal finds exactly this session and nothing else.
LONG_QUERY = "SELECT pg_sleep(3600) /* sandbox fault long_query */"


def start_long_query(pg: PostgresCluster, timeout: float = 5.0) -> None:
    """Open a session of the app's database that runs one hour-long statement; return once it is active."""
    from sandbox.common import state

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
    from sandbox.common import state

    with pg.connect(state.DB_NAME) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = %s AND pid <> pg_backend_pid()",
            (LONG_QUERY,),
        )


def inject_new_type(store: SentryStore) -> None:
    """The sentry_new_type fault: an error type never seen before, first seen now, 180 events."""
    now = dt.datetime.now(dt.UTC)
    with store._lock:
        if any(issue.injected and issue.error_type == "TimeoutError" for issue in store.issues):
            return
        store.issues.append(
            Issue(
                "5241",
                "AMANI-BACKEND-2Z",
                "TimeoutError: FinCra payout status polling timed out after 30s",
                "app.integrations.fincra in poll_payout_status",
                "error",
                "unresolved",
                True,
                180,
                41,
                now,
                now,
                "TimeoutError",
                "FinCra payout status polling timed out after 30s",
                injected=True,
            )
        )
