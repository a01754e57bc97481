"""Stand-ins for the third parties around the service: Sentry, Grafana, FinCra, Slack, an SMTP
server, and the users (the synthetic traffic). Each runs in a thread of the supervisor.
"""
