"""How long a phase may take against hung targets: the documented bound (README, "Time, requests and safety").

Every network call has its own timeout, so a run against a target that hangs ends in a time
that can be written down before it starts. first15 has its own, tighter formula in
bench/first15.py (it knows its API calls one by one); the other phases use this one.
"""

from __future__ import annotations

from postdeploy.config import Environment

CALLS_PER_CHECK = 3  # a check asks its sources a handful of times at most
CONSTANT = 5.0  # interpreter start-up, collection, writing the reports


def longest_call(env: Environment) -> float:
    """The longest a single call to any configured source may take, in seconds."""
    db = env.database
    return max(
        env.api.connect_timeout + env.api.read_timeout,
        (db.connect_timeout + db.statement_timeout) if db else 0.0,
        env.prometheus.timeout if env.prometheus else 0.0,
        env.sentry.timeout if env.sentry else 0.0,
    )


def phase_bound(env: Environment, checks: int) -> tuple[float, str]:
    """Return the bound in seconds for a run of `checks` checks, and the formula that gives it."""
    longest = longest_call(env)
    total = checks * CALLS_PER_CHECK * longest + env.windows.max_wait + CONSTANT
    formula = f"{checks} checks x {CALLS_PER_CHECK} calls x {longest:g} s + max_wait {env.windows.max_wait:g} s + {CONSTANT:g} s"
    return total, formula
