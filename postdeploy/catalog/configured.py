""" "Not configured", said one way: what a check needs (the catalog's `needs`) against the environment.

A check whose need is missing is skipped with the summary "not configured: <what to add> to
<environments/NAME.toml>" and the kind "not_configured" (results.not_configured); the record
keeps the kind, the verdict reads it (a critical check not run for want of configuration makes
the verdict "issues") and the Allure categories are made from it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from postdeploy import catalog
from postdeploy.core.results import Result, not_configured

if TYPE_CHECKING:
    from postdeploy.config import Environment


def present(env: Environment, need: str) -> bool:
    """Whether the environment has what `need` (a key of catalog.NEEDS) names."""
    if need == "expected":
        return bool(env.expected.version or env.expected.commit)
    if need == "alerts":
        return env.alert_source() is not None
    value: Any = env
    for part in need.split("."):
        value = getattr(value, part, None)
    return bool(value)


def result(env: Environment, need: str) -> Result:
    """The "not configured" result of one need, naming the environment file."""
    return not_configured(catalog.NEEDS[need].format(path=env.path))


def missing(env: Environment, needs: tuple[str, ...] | list[str]) -> Result | None:
    """The "not configured" result of the first missing need, or None when every need is met."""
    for need in needs:
        if not present(env, need):
            return result(env, need)
    return None
