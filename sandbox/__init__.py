"""A small, real local stand-in for a deployment of the Amani Escrow Backend.

``python -m sandbox up`` starts PostgreSQL, the service imitation, Prometheus, a Sentry
stand-in and synthetic traffic on 127.0.0.1; ``fault NAME`` breaks one thing on purpose and
``heal`` redeploys. See ``sandbox/control/faults.py`` for the faults and ``state.json`` for the
addresses a post-deployment suite needs.
"""
