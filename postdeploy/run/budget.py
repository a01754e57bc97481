"""The request budget of a phase: how many API requests a run may send before that is a finding.

Being gentle on the target is part of the job (issue 6): a phase that sends more than its
documented budget (`[budget]` in the environment file) makes the verdict "issues" at
least, so a check that starts hammering production is noticed in the record, not later.
"""

from __future__ import annotations

from typing import Any

from postdeploy.config import Budget


def usage(phase: str, sent: int, budget: Budget) -> dict[str, Any]:
    """The record's `budget`: API requests sent vs the phase's limit (verdict.final_verdict reads `exceeded`)."""
    limit = budget.of(phase)
    return {"phase": phase, "limit": limit, "sent": sent, "exceeded": sent > limit}


def line(data: dict[str, Any]) -> str:
    """One line for a report: "API requests: 42 of 200 (budget of first15)"."""
    b = data.get("budget") or {}
    if not b:
        return f"API requests: {data.get('api_requests', 0)}"
    over = " - EXCEEDED" if b.get("exceeded") else ""
    return f"API requests: {b['sent']} of {b['limit']} (budget of {b['phase']}){over}"
