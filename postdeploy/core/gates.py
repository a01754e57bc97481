"""Root cause first: what a check depends on, and which check stands for that dependency.

A check declares `@pytest.mark.depends_on("service")` (or "login", "process",
"database", "prometheus"). Each gate has the check that judges it (its root) and the gates it needs
itself. When a root failed, its dependants are recorded as outcome `blocked`, "blocked by
<root>", not as failures of their own with their own advice: the verdict's first reason is
the root cause (verdict.py).

Two ways in: in the process that ran the root, the `check` fixture skips a dependant as
blocked before it runs (the plugin runs roots first); in the record (xdist: a root on
another worker), a dependant that failed while its root failed is relabelled blocked.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

# gate -> (the check that judges it, the gates it needs first)
GATES: dict[str, tuple[str, tuple[str, ...]]] = {
    "process": ("deploy.running", ()),
    "service": ("wait.ready", ("process",)),
    "login": ("auth.login", ("service",)),
    # No check of its own: the first check whose database connection failed is the root.
    "database": ("", ()),
    # No check of its own: the first check that could not reach Prometheus (and did not
    # pass) is the root; the other metric checks are blocked by it, not N failures alike.
    "prometheus": ("", ()),
}
ROOTS = {root: gate for gate, (root, _) in GATES.items() if root}
# A root check that could not ask (deploy.running without an answer from the runtime) proves nothing down.
NOT_DOWN_VALUES = {"deploy.running": lambda value: value == "not running"}


def closure(names: Iterable[str]) -> list[str]:
    """The gates `names` need, the deepest first ("login" -> process, service, login)."""
    out: list[str] = []

    def add(name: str) -> None:
        for need in GATES.get(name, ("", ()))[1]:
            add(need)
        if name not in out:
            out.append(name)

    for name in names:
        add(name)
    return out


def unknown(names: Iterable[str]) -> list[str]:
    return [n for n in names if n not in GATES]


def is_down(check_id: str, outcome: str, value: Any) -> bool:
    """Does this outcome of a root check mean its gate is down?"""
    if check_id not in ROOTS or outcome not in ("failed", "error", "blocked"):
        return False
    test = NOT_DOWN_VALUES.get(check_id)
    return outcome == "blocked" or test is None or bool(test(value))


def blocker(down: dict[str, tuple[str, str]], needs: Iterable[str]) -> tuple[str, str] | None:
    """The (root check, what it said) of the deepest gate down among what a check needs, else None."""
    for gate in closure(needs):
        if gate in down:
            return down[gate]
    return None


def blocked_entry(root: str, why: str) -> dict[str, Any]:
    return {"outcome": "blocked", "blocked_by": root, "summary": f"blocked by {root}: {why}"[:300]}


def relabel(checks: list[dict[str, Any]]) -> None:
    """In a record: dependants that failed while a root of theirs failed become `blocked` (in place)."""
    down: dict[str, tuple[str, str]] = {}
    for c in checks:
        cid = str(c.get("id"))
        if is_down(cid, str(c.get("outcome")), c.get("value")) and c.get("outcome") != "blocked":
            down[ROOTS[cid]] = (cid, str(c.get("summary", ""))[:200])
    # Checks whose database connection failed with the same words: the first is the root.
    seen_db: dict[str, str] = {}
    for c in checks:
        if "database" in (c.get("depends_on") or []) and c.get("outcome") == "error" and c.get("summary"):
            seen_db.setdefault(str(c["summary"]), str(c.get("id")))
    # Checks that could not reach Prometheus (the `check` fixture flags them): the first is the root.
    for c in checks:
        for gate in c.get("unreached") or []:
            if gate in GATES and gate not in down and c.get("outcome") in ("failed", "error", "inconclusive"):
                down[gate] = (str(c.get("id")), str(c.get("summary", ""))[:200])
    for c in checks:
        if c.get("outcome") not in ("failed", "error", "inconclusive"):
            continue
        needs = c.get("depends_on") or []
        local = dict(down)
        root_db = seen_db.get(str(c.get("summary", "")))
        if "database" in needs and root_db and root_db != c.get("id"):
            local["database"] = (root_db, str(c["summary"])[:200])
        if "prometheus" not in (c.get("unreached") or []):
            local.pop("prometheus", None)  # it reached Prometheus: its failure is its own
        found = blocker(local, needs)
        if found is None or found[0] == c.get("id"):
            continue
        own = str(c.get("summary", ""))
        c.update(blocked_entry(*found))
        c["evidence"] = {**(c.get("evidence") or {}), "own result": own[:300]}
        c.pop("advice", None)
