"""Sentry's issue search syntax, for the keys a monitoring check needs.

Supported: ``is:``, ``level:`` (also ``level:[error,fatal]``), ``firstSeen:`` / ``age:`` /
``lastSeen:`` (``-15m`` within the last 15 minutes, ``+1d`` older than a day, or
``>``/``>=``/``<``/``<=`` with an ISO-8601 time), ``environment:``, ``timesSeen:``,
``error.unhandled:``, ``issue.category:``, ``!`` negation and free text. Any other key is a
400 here: real Sentry would treat it as a tag and quietly match nothing, which would make a
check pass for the wrong reason.
"""

from __future__ import annotations

import datetime as dt
import re
import shlex
from collections.abc import Callable
from typing import Any

UTC = dt.UTC
Predicate = Callable[[Any], bool]

_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


class QueryError(ValueError):
    """An invalid search or parameter; answered as 400 {"detail": ...}."""


def parse_period(text: str) -> dt.timedelta:
    """Parse '15m', '24h', '14d' (Sentry's statsPeriod and relative search values)."""
    match = re.fullmatch(r"(\d+)([smhdw])", text)
    if not match:
        raise QueryError(f"Invalid stats_period: {text}")
    return dt.timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def parse_when(text: str) -> dt.datetime:
    """Parse an ISO-8601 time; a naive one is taken as UTC, as Sentry does."""
    try:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise QueryError(f"Invalid date: {text}") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _time_filter(value: str, now: dt.datetime, attribute: str) -> Predicate:
    relative = re.fullmatch(r"([-+])(\d+[smhdw])", value)
    if relative:
        boundary = now - parse_period(relative.group(2))
        if relative.group(1) == "-":
            return lambda issue: getattr(issue, attribute) >= boundary
        return lambda issue: getattr(issue, attribute) <= boundary
    absolute = re.fullmatch(r"(>=|<=|>|<)(.+)", value)
    if not absolute:
        raise QueryError(f"Invalid date format for {attribute}: {value}")
    op, when = absolute.group(1), parse_when(absolute.group(2))
    compare = {
        ">": lambda a: a > when,
        ">=": lambda a: a >= when,
        "<": lambda a: a < when,
        "<=": lambda a: a <= when,
    }[op]
    return lambda issue: compare(getattr(issue, attribute))


def _count_filter(value: str) -> Predicate:
    match = re.fullmatch(r"(>=|<=|>|<)?(\d+)", value)
    if not match:
        raise QueryError(f"Invalid number for timesSeen: {value}")
    op, number = match.group(1) or "=", int(match.group(2))
    compare = {
        "=": lambda c: c == number,
        ">": lambda c: c > number,
        ">=": lambda c: c >= number,
        "<": lambda c: c < number,
        "<=": lambda c: c <= number,
    }[op]
    return lambda issue: compare(issue.count)


def _values(value: str) -> list[str]:
    if value.startswith("[") and value.endswith("]"):
        return [part.strip() for part in value[1:-1].split(",") if part.strip()]
    return [value]


def _is_filter(value: str) -> Predicate:
    statuses = {"unresolved": "unresolved", "resolved": "resolved", "ignored": "ignored", "archived": "ignored"}
    if value in statuses:
        return lambda issue: issue.status == statuses[value]
    if value == "unassigned":
        return lambda issue: True
    if value == "assigned":
        return lambda issue: False
    raise QueryError(f'Invalid value for "is" search: {value}')


def _term(key: str, value: str, now: dt.datetime) -> Predicate:
    if key == "is":
        return _is_filter(value)
    if key == "level":
        levels = {v.lower() for v in _values(value)}
        return lambda issue: issue.level in levels
    if key in ("firstSeen", "age", "first_seen"):
        return _time_filter(value, now, "first_seen")
    if key in ("lastSeen", "last_seen"):
        return _time_filter(value, now, "last_seen")
    if key == "environment":
        wanted = set(_values(value))
        return lambda issue: bool(wanted & set(issue.environments))
    if key in ("timesSeen", "times_seen"):
        return _count_filter(value)
    if key == "error.unhandled":
        flag = value.lower() in ("true", "1", "yes")
        return lambda issue: issue.is_unhandled == flag
    if key in ("issue.category", "issue.type", "event.type"):
        return lambda issue: "error" in _values(value)
    raise QueryError(f"Invalid search query: unsupported key '{key}' in the sandbox")


def parse_query(query: str, now: dt.datetime) -> list[Predicate]:
    """Turn a search string into predicates that must all hold."""
    try:
        tokens = shlex.split(query)
    except ValueError as exc:
        raise QueryError(f"Invalid search query: {exc}") from None
    predicates: list[Predicate] = []
    for token in tokens:
        negate = token.startswith("!")
        body = token[1:] if negate else token
        key, sep, value = body.partition(":")
        if sep and re.fullmatch(r"[A-Za-z_.]+", key) and value:
            predicate = _term(key, value, now)
        else:
            text = token.lower()
            negate = False
            predicate = (lambda t: lambda issue: t in issue.title.lower() or t in issue.culprit.lower())(text)
        predicates.append((lambda p: lambda issue: not p(issue))(predicate) if negate else predicate)
    return predicates


def matches(issue: Any, predicates: list[Predicate]) -> bool:
    """Tell whether an issue satisfies every predicate."""
    return all(predicate(issue) for predicate in predicates)
