"""What gets asked: the clients of the API, Prometheus, the database, logs, Sentry, Grafana,
Alertmanager, Slack, TLS, backups and the vendors, on one HTTP JSON client base.

Imports only postdeploy.config and postdeploy.core.
"""
