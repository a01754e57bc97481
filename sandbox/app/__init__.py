"""The service: the stand-in for the Amani Escrow Backend, run as its own process (``python -m sandbox.app``).

Its HTTP contract (routes, router, writes, web, contract), security and rate limiter, metrics
and logs, database pool and background jobs, and the app-side faults (burn, leaks,
observability) it reads from ``faults.json``.
"""
