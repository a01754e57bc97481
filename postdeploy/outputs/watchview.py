"""How a watch is shown: the live progress line, the sentence that says when and why it ended
(record.md, the terminal), and the table of evaluations in report.html.

The ending and the table read the record's JSON (`Outcome.to_json()`), so an old record and
an interrupted one render the same way; the progress line reads the live objects.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from postdeploy.outputs import templating
from postdeploy.outputs.watch import FINAL, OWN_RULES, Evaluation, Outcome

FIRST15_HEADERS = ("requests", "ours", "error rate", "rollback above", "issues above", "p95")
CHECKS_HEADERS = ("passed", "failed", "inconclusive")


def clock_text(seconds: float) -> str:
    """`m:ss` (minutes past 59 stay minutes: a 24 h watch shows 1440:00)."""
    seconds = max(0, int(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"


def _since(watch: Mapping[str, Any]) -> str:
    return str(watch.get("anchor") or "the deploy")


def _by_rule(checks: Mapping[str, str]) -> bool:
    """Whether an evaluation judged first15's checks with rules of their own (requests, error rate, p95)."""
    return any(cid in OWN_RULES for cid in checks)


def _counts(checks: Mapping[str, str], streaks: Mapping[str, int]) -> list[str]:
    """passed / failed (with the streak of each failing check) / inconclusive, as cells."""
    failing = [f"{cid} x{streaks.get(cid, 1)}" for cid, outcome in checks.items() if outcome == "failed"]
    passed = sum(1 for o in checks.values() if o == "passed")
    unsure = [cid for cid, o in checks.items() if o not in ("passed", "failed")]
    return [str(passed), ", ".join(failing) or "0", ", ".join(unsure) or "0"]


def progress_line(out: Outcome, ev: Evaluation) -> str:
    """`watch 0:42/2:00  requests 412 (ours 38)  error rate 4.13% (rollback above 17.2%)  p95 41 ms  so far: ...`,
    or for the later phases `watch 12:00/60:00  passed 7  failing: resources x1  so far: ...`."""
    parts = [f"watch {clock_text(ev.elapsed)}/{clock_text(out.window)}"]
    if _by_rule(ev.checks):
        if ev.requests is not None:
            ours = f" (ours {ev.ours})" if out.traffic else ""
            parts.append(f"requests {ev.requests:.0f}{ours}")
            if ev.rate is not None:
                bound = f"rollback above {ev.rollback_rate_bound:.1%}" if ev.rollback_rate_bound is not None else ""
                parts.append(f"error rate {ev.rate:.2%}" + (f" ({bound})" if bound else ""))
        else:
            parts.append("requests -")
        parts.append(f"p95 {ev.p95 * 1000:.0f} ms" if ev.p95 is not None else "p95 -")
    else:
        passed, failing, unsure = _counts(ev.checks, ev.streaks)
        parts.append(f"passed {passed}")
        parts += [f"failing: {failing}"] if failing != "0" else []
        parts += [f"inconclusive: {unsure}"] if unsure != "0" else []
    parts.append(f"decided: {ev.decision.upper()}" if ev.decision in FINAL else f"so far: {ev.so_far}")
    if ev.took > out.interval:
        parts.append(f"(this evaluation took {ev.took:.0f}s, more than the {out.interval:g}s interval)")
    return "  ".join(parts)


def ending(watch: Mapping[str, Any]) -> str:
    """One sentence: when and why the watch ended (record.md, the terminal summary)."""
    window = clock_text(watch.get("window_s") or 0)
    evs = watch.get("evaluations") or []
    made = int(watch.get("evaluations_made") or len(evs))
    if watch.get("status") == "interrupted":
        last = clock_text(evs[-1]["elapsed"]) if evs else "0:00"
        return f"interrupted at {last} of its {window} window after {made} evaluation(s): no verdict"
    if watch.get("status") == "not run":
        return f"did not run: {watch.get('reason') or 'nothing to watch'}; the watched checks ran once"
    if watch.get("status") != "decided":
        return f"did not finish ({made} evaluation(s))"
    after = clock_text(watch.get("decided_after_s") or 0)
    why = "; ".join(watch.get("reasons") or [])
    early = "" if watch.get("decision") == "success" else " (before the window closed)"
    if watch.get("decision") != "success" and (watch.get("decided_after_s") or 0) >= (watch.get("window_s") or 0):
        early = " (at the close of the window)"
    return (
        f"decided {str(watch.get('decision')).upper()} {after} after {_since(watch)}{early}, "
        f"window {window}, {made} evaluation(s): {why}"
    )


def markdown(watch: Mapping[str, Any] | None) -> list[str]:
    """The watch's lines of record.md."""
    if not watch:
        return []
    out = ["", "## Watch", "", f"The watch {ending(watch)}.", ""]
    traffic = watch.get("traffic") or {}
    if traffic:
        out.append(
            f"Watch traffic (ours, counted apart): {traffic.get('sent', 0)} GETs at {traffic.get('rate', '?')}, "
            f"{traffic.get('failed', 0)} failed, to {', '.join(traffic.get('endpoints', []))}."
        )
        out.append("")
    return out


def _cell(v: Any, fmt: str = "{}") -> str:
    return "-" if v is None else fmt.format(v)


def _first15_cells(ev: Mapping[str, Any]) -> list[str]:
    return [
        _cell(ev.get("requests"), "{:.0f}"),
        _cell(ev.get("ours")),
        _cell(ev.get("rate"), "{:.2%}"),
        _cell(ev.get("rollback_rate_bound"), "{:.1%}"),
        _cell(ev.get("major_rate_bound"), "{:.1%}"),
        _cell(None if ev.get("p95") is None else ev["p95"] * 1000, "{:.0f} ms"),
    ]


def html_table(watch: Mapping[str, Any] | None) -> str:
    """The evaluations and the moment of decision, as a table for report.html (templates/watch.html.j2)."""
    if not watch:
        return ""
    evs = watch.get("evaluations") or []
    by_rule = any(_by_rule(ev.get("checks") or {}) for ev in evs) or not any(ev.get("checks") for ev in evs)
    rows = []
    for n, ev in enumerate(evs):
        middle = _first15_cells(ev) if by_rule else _counts(ev.get("checks") or {}, ev.get("streaks") or {})
        decision = ev.get("decision") if ev.get("decision") in FINAL else ev.get("so_far", "")
        cells = [clock_text(ev["elapsed"]), *middle, decision]
        rows.append({"decided": n == len(evs) - 1 and ev.get("decision") in FINAL, "cells": cells})
    headers = [f"since {_since(watch).removeprefix('the ')}", *(FIRST15_HEADERS if by_rule else CHECKS_HEADERS)]
    made = int(watch.get("evaluations_made") or len(evs))
    thinned = (
        f"{len(evs)} of {made} evaluations shown: the first, the last, every change, and evenly between"
        if made > len(evs)
        else ""
    )
    return templating.render(
        "watch.html.j2", ending=ending(watch), thinned=thinned, headers=[*headers, "decision"], rows=rows
    )
