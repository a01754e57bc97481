"""A small thread-safe psycopg connection pool with the real service's failure modes.

Like the service, it has a connect timeout but no statement timeout: a frozen database
makes queries hang. Broken connections are discarded, so the pool recovers by itself once
the database is back.
"""

from __future__ import annotations

import select
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import pq

from sandbox.app.appmetrics import DB_CONNECTIONS, DB_QUERY_DURATION


class PoolTimeoutError(Exception):
    """No connection became free in time (SQLAlchemy's QueuePool timeout)."""


class ConnectionPool:
    """Up to max_size connections, min_size of them opened eagerly and kept."""

    def __init__(
        self,
        conninfo: dict[str, Any],
        *,
        min_size: int = 5,
        max_size: int = 10,
        timeout: float = 30.0,
    ) -> None:
        self._conninfo = dict(conninfo, connect_timeout=2, autocommit=True, application_name="amani-backend")
        self.min_size = min_size
        self.max_size = max_size
        self.timeout = timeout
        self._idle: list[psycopg.Connection] = []
        self._leaked: list[psycopg.Connection] = []
        self._open = 0
        self._cond = threading.Condition()

    def _connect(self) -> psycopg.Connection:
        return psycopg.connect(**self._conninfo)

    def _set_gauge(self) -> None:
        DB_CONNECTIONS.set(self._open + len(self._leaked))

    def leak(self, count: int) -> None:
        """The connection_leak fault: open connections that are never given back."""
        while len(self._leaked) < count:
            try:
                conn = self._connect()
            except psycopg.Error:
                return
            with self._cond:
                self._leaked.append(conn)
                self._set_gauge()

    def fill(self) -> None:
        """Open connections up to min_size; failures are left for later requests."""
        while True:
            with self._cond:
                if self._open >= self.min_size:
                    return
                self._open += 1
                self._set_gauge()
            try:
                conn = self._connect()
            except psycopg.Error:
                with self._cond:
                    self._open -= 1
                    self._set_gauge()
                return
            self._release(conn)

    def _acquire(self) -> psycopg.Connection:
        deadline = time.monotonic() + self.timeout
        with self._cond:
            while True:
                while self._idle:
                    conn = self._idle.pop()
                    if self._usable(conn):
                        return conn
                    conn.close()
                    self._open -= 1
                    self._set_gauge()
                if self._open < self.max_size:
                    self._open += 1
                    self._set_gauge()
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise PoolTimeoutError(
                        f"QueuePool limit of size {self.max_size} overflow 0 reached,"
                        f" connection timed out, timeout {self.timeout:.2f}"
                    )
                self._cond.wait(remaining)
        try:
            return self._connect()
        except BaseException:
            with self._cond:
                self._open -= 1
                self._set_gauge()
                self._cond.notify()
            raise

    @staticmethod
    def _usable(conn: psycopg.Connection) -> bool:
        """A cheap pre-ping: an idle connection with unread data was closed by the server.

        Like SQLAlchemy's pool_pre_ping, this makes the first request after a database
        restart reconnect (and see "Connection refused") instead of failing on a dead
        socket, yet costs no round trip, so a frozen server still makes requests hang.
        """
        if conn.closed or conn.broken:
            return False
        try:
            readable, _, _ = select.select([conn.fileno()], [], [], 0)
        except (OSError, ValueError, psycopg.Error):
            return False
        return not readable

    def _release(self, conn: psycopg.Connection) -> None:
        healthy = not conn.closed and not conn.broken and conn.info.transaction_status == pq.TransactionStatus.IDLE
        with self._cond:
            if healthy:
                self._idle.append(conn)
            else:
                self._open -= 1
                self._set_gauge()
            self._cond.notify()
        if not healthy:
            conn.close()

    def _discard(self, conn: psycopg.Connection) -> None:
        conn.close()
        with self._cond:
            self._open -= 1
            self._set_gauge()
            self._cond.notify()

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        """Lend a connection; one that failed at the driver level is thrown away."""
        conn = self._acquire()
        try:
            yield conn
        except (psycopg.OperationalError, psycopg.InterfaceError):
            self._discard(conn)
            raise
        except BaseException:
            self._release(conn)
            raise
        else:
            self._release(conn)

    def fetch(self, query: str, params: Any = None, operation: str = "select") -> list[Any]:
        """Run one statement and return its rows (empty for statements without rows)."""
        with self.connection() as conn:
            started = time.perf_counter()
            try:
                cursor = conn.execute(query, params)
                return cursor.fetchall() if cursor.description else []
            finally:
                DB_QUERY_DURATION.labels(operation).observe(time.perf_counter() - started)

    def close(self) -> None:
        """Close idle connections (borrowed ones are closed when returned)."""
        with self._cond:
            idle, self._idle = self._idle, []
            self._open -= len(idle)
            self._set_gauge()
        for conn in idle:
            conn.close()
