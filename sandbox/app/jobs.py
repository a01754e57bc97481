"""The app's background jobs: wallet balance sync and blockchain event ingestion.

The real service runs such jobs on a schedule; the checklist verifies them by the newest
row each one writes, so the sandbox's jobs write real rows at a fixed interval.
"""

from __future__ import annotations

import logging
import threading
import time

from sandbox.app.appmetrics import JOB_LAST_SUCCESS
from sandbox.app.dbpool import ConnectionPool
from sandbox.app.faultfile import FaultFlags
from sandbox.app.routes import driver_message

WALLET_SYNC_INTERVAL = 30.0
EVENT_INGESTION_INTERVAL = 15.0
EMAIL_SENDING_INTERVAL = 10.0

JOBS = {
    "Wallet balance sync": (
        WALLET_SYNC_INTERVAL,
        "INSERT INTO wallet_balance_snapshot (wallet_id, asset, balance)"
        " SELECT id, 'USDC', round((random() * 90000)::numeric, 2) FROM wallet_registry",
    ),
    "Wallet event ingestion": (
        EVENT_INGESTION_INTERVAL,
        "INSERT INTO wallet_transaction_event (wallet_id, tx_hash, direction, asset, amount, block_number)"
        " SELECT id, '0x' || md5(random()::text) || md5(random()::text), 'in', 'USDC',"
        " round((random() * 5000)::numeric, 2), 19000000 + (extract(epoch FROM now()))::bigint / 12"
        " FROM wallet_registry",
    ),
}
# Email sending: picks the sign-ups of the last hour that still need their welcome mail.
JOBS["Email sending"] = (
    EMAIL_SENDING_INTERVAL,
    "SELECT count(*) FROM users WHERE NOT is_verified AND created_at > now() - interval '1 hour'",
)


def task_label(name: str) -> str:
    """ "Wallet balance sync" -> "wallet_balance_sync" (the label of its last-run metric)."""
    return name.lower().replace(" ", "_")


class BackgroundJobs:
    """Runs every job at once, then each at its own interval, in one daemon thread."""

    def __init__(self, pool: ConnectionPool, faults: FaultFlags, log: logging.Logger) -> None:
        self.pool = pool
        self.faults = faults
        self.log = log
        self._stop = threading.Event()

    def start(self) -> None:
        threading.Thread(target=self._run, name="background-jobs", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        due = dict.fromkeys(JOBS, 0.0)
        while not self._stop.wait(0.5):
            for name, (interval, statement) in JOBS.items():
                now = time.monotonic()
                if now < due[name] or self.faults.active("job_stalled"):
                    continue
                due[name] = now + interval
                try:
                    self.pool.fetch(statement, operation="insert")
                except Exception as exc:
                    self.log.error(f"{name} failed: {driver_message(exc)}")
                else:
                    JOB_LAST_SUCCESS.labels(task_label(name)).set_to_current_time()
                    self.log.info(f"{name} completed")
