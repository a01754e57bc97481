"""The target's PromQL, by name: every metric the checks read is written out here and nowhere else.

The reference service exports (TARGET.md): `http_requests_total{endpoint,status}`,
`http_request_duration_seconds` (a histogram), `errors_total` (unhandled exceptions: counted
there and not in `http_requests_total`), `db_connections_active`, the business counters
`user_registrations_total` and `escrow_transactions_total`, and prometheus_client's process
metrics; node_exporter exports the filesystem. Callers compose these selectors with their
window (`rng` is a PromQL range such as "[300s]" or "[300s] offset 1d").
"""

from __future__ import annotations

# -- the metric names -----------------------------------------------------------------------
REQUESTS = "http_requests_total"
DURATION = "http_request_duration_seconds"
UNHANDLED = "errors_total"
DB_CONNECTIONS = "db_connections_active"
RSS = "process_resident_memory_bytes"
CPU = "process_cpu_seconds_total"
START_TIME = "process_start_time_seconds"
REGISTRATIONS = "user_registrations_total"
TRANSACTIONS = "escrow_transactions_total"
DISK_AVAIL = "node_filesystem_avail_bytes"
DISK_SIZE = "node_filesystem_size_bytes"


def of_job(job: str, extra: str = "") -> str:
    """The label matcher of the target's scrape job, and further matchers (`endpoint=~"/a|/b"`)."""
    return f'job="{job}"' + (f",{extra}" if extra else "")


# -- selectors (one series set each) ----------------------------------------------------------
def series(metric: str, job: str, extra: str = "") -> str:
    """The series of `metric` scraped from the job (and matching `extra`)."""
    return f"{metric}{{{of_job(job, extra)}}}"


def traffic(job: str) -> dict[str, str]:
    """The three counters an error rate is made of: every answered request, the 5xx answers, and
    the unhandled exceptions (not in the requests: a database outage shows there, not as 5xx)."""
    return {"requests": requests(job), "5xx": requests_5xx(job), "unhandled": unhandled(job)}


def requests(job: str) -> str:
    return series(REQUESTS, job)


def requests_5xx(job: str) -> str:
    return series(REQUESTS, job, 'status=~"5.."')


def unhandled(job: str) -> str:
    return series(UNHANDLED, job)


def duration_buckets(job: str, extra: str = "") -> str:
    return series(f"{DURATION}_bucket", job, extra)


def duration_count(job: str) -> str:
    return series(f"{DURATION}_count", job)


def rss(job: str) -> str:
    """Resident memory of each process of the job."""
    return series(RSS, job)


def started_after(job: str, epoch: float) -> str:
    """The processes of the job started at or after `epoch` (Unix seconds): those of a deploy."""
    return f"({series(START_TIME, job)} >= {epoch:.0f})"


def business(job: str) -> dict[str, str]:
    """The business counters, by name."""
    return {"registrations": series(REGISTRATIONS, job), "transactions": series(TRANSACTIONS, job)}


def disk(selector: str) -> dict[str, str]:
    """Free and total bytes of the filesystems `selector` matches."""
    return {"avail": f"{DISK_AVAIL}{{{selector}}}", "size": f"{DISK_SIZE}{{{selector}}}"}


# -- named queries ------------------------------------------------------------------------------
def increase(selector: str, rng: str, by: str = "") -> str:
    """How much a counter grew over `rng`, summed (per `by` label when given)."""
    grp = f" by ({by})" if by else ""
    return f"sum{grp} (increase({selector}{rng}))"


def latency_quantile(q: float, job: str, rng: str, by: str = "", *, fn: str = "rate", extra: str = "") -> str:
    """The q-quantile of request duration over `rng` (per `by` label when given; `fn` rate or increase)."""
    le = f"le, {by}" if by else "le"
    return f"histogram_quantile({q}, sum by ({le}) ({fn}({duration_buckets(job, extra)}{rng})))"


def request_rate(job: str, rng: str) -> str:
    """Requests per second over `rng`."""
    return f"sum(rate({requests(job)}{rng}))"


def cpu_rate(job: str, rng: str, by: str = "instance") -> str:
    """CPU seconds per second of each process (`by` "" : of every series, unsummed)."""
    rate = f"rate({series(CPU, job)}{rng})"
    return f"sum by ({by}) ({rate})" if by else rate


def db_connections(job: str) -> str:
    """Open database connections of the job, summed over its processes."""
    return f"sum({series(DB_CONNECTIONS, job)})"
