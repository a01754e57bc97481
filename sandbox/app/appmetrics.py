"""The app's Prometheus metrics: the real service's names, labels and buckets."""

from __future__ import annotations

import re

from prometheus_client import Counter, Gauge, Histogram, Info

REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)

HTTP_REQUESTS = Counter("http_requests_total", "Total HTTP requests", ["method", "endpoint", "status"])
HTTP_DURATION = Histogram(
    "http_request_duration_seconds",
    "HTTP request latency in seconds",
    ["method", "endpoint"],
    buckets=REQUEST_BUCKETS,
)
HTTP_IN_PROGRESS = Gauge("http_requests_in_progress", "HTTP requests in progress", ["method", "endpoint"])
ERRORS = Counter("errors_total", "Total unhandled errors", ["error_type", "endpoint"])
DB_CONNECTIONS = Gauge("db_connections_active", "Open database connections in the pool")
DB_QUERY_DURATION = Histogram("db_query_duration_seconds", "Database query latency in seconds", ["operation"])
ESCROW_TRANSACTIONS = Counter("escrow_transactions_total", "Escrow transactions processed", ["type", "status"])
USER_REGISTRATIONS = Counter("user_registrations_total", "User registrations")
KYC_SUBMISSIONS = Counter("kyc_submissions_total", "KYC submissions", ["status"])
APP_INFO = Info("amani_app", "Application information")
# Not in the reference service: the sandbox's jobs export their last successful run, the
# freshness source item 16 can read instead of a "newest row" query.
JOB_LAST_SUCCESS = Gauge(
    "background_job_last_success_timestamp_seconds", "Unix time of the job's last successful run", ["task"]
)

# Business counters exist from the start (at zero) so that queries find the series.
for _type, _status in (("hold", "completed"), ("release", "completed"), ("hold", "failed")):
    ESCROW_TRANSACTIONS.labels(_type, _status)
for _status in ("pending", "approved", "rejected"):
    KYC_SUBMISSIONS.labels(_status)

_ID_SEGMENT = re.compile(r"^(\d+|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$")


def endpoint_label(path: str) -> str:
    """Replace UUID and numeric segments by {id} and drop the trailing slash."""
    segments = ["{id}" if _ID_SEGMENT.match(part) else part for part in path.split("/")]
    label = "/".join(segments)
    if len(label) > 1:
        label = label.rstrip("/")
    return label or "/"
