"""The real infrastructure the sandbox runs: PostgreSQL (with its seed rows and database
faults), Prometheus (with its backfilled history), Alertmanager, the backups, the TLS
certificates; ``daemon`` starts and stops the Debian-packaged daemons.
"""
