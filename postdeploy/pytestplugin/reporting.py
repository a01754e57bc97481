"""Report glue: the verdict and evidence in pytest-html, labels and evidence in Allure.

Registered by the plugin as a plugin of its own; every hook here is optional so the
suite still runs where pytest-html or allure-pytest is missing.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from postdeploy.core.errors import TargetError
from postdeploy.core.redaction import redact
from postdeploy.core.results import UNREACHABLE
from postdeploy.core.terms import VERDICT_COLOURS
from postdeploy.outputs import allurecats, templating
from postdeploy.pytestplugin.state import STATE, WRITTEN
from postdeploy.run import channel
from postdeploy.run.runmodel import entries

# The attribute of a skip exception that carries its kind ("not_configured") into the record.
KIND_ATTR = "postdeploy_kind"

ALLURE_SEVERITY = {"critical": "critical", "major": "normal", "minor": "minor"}


def label_allure(meta: dict[str, Any]) -> None:
    """Give the running test Allure labels: phase, item, check and severity."""
    try:
        import allure
    except ImportError:  # pragma: no cover - allure-pytest is a dependency
        return
    for phase in meta["phases"]:
        allure.dynamic.label("phase", phase)
    allure.dynamic.label("item", str(meta["item"]))
    allure.dynamic.label("check", str(meta["id"]))
    allure.dynamic.label("postdeploy_severity", str(meta["severity"]))
    allure.dynamic.severity(ALLURE_SEVERITY.get(str(meta["severity"]), "normal"))


def attach_allure(entry: dict[str, Any]) -> None:
    """Attach a check's evidence to its Allure result."""
    try:
        import allure
    except ImportError:  # pragma: no cover
        return
    allure.attach(
        json.dumps(entry, indent=2, default=str), name="evidence", attachment_type=allure.attachment_type.JSON
    )


def kind_of(exc: BaseException) -> str:
    """The kind of an exception that ended a check: one a skip or failure carries, or "unreachable"
    for a target that could not be asked (a TargetError the check did not turn into a result)."""
    kind = getattr(exc, KIND_ATTR, "")
    if not kind and isinstance(exc, TargetError):
        return UNREACHABLE
    return str(kind)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: Any) -> Any:
    outcome = yield
    report = outcome.get_result()
    kind = kind_of(call.excinfo.value) if call.excinfo is not None else ""
    if kind:
        # A skip with a kind (fixtures.skip): the record keeps the kind, not only the text.
        channel.say(report, kind=kind)
    if report.when != "call":
        return
    judged = channel.judged(item.user_properties)
    if judged is None:
        return
    try:
        from pytest_html import extras
    except ImportError:  # pragma: no cover
        return
    report.extras = [*getattr(report, "extras", []), extras.json(judged, name="evidence")]


@pytest.hookimpl(optionalhook=True)
def pytest_html_report_title(report: Any) -> None:
    report.title = "postdeploy: deployment check"


@pytest.hookimpl(optionalhook=True)
def pytest_html_results_summary(
    prefix: list[str], summary: list[str], postfix: list[str], session: pytest.Session
) -> None:
    config = session.config
    state = config.stash.get(STATE, None)
    data = config.stash.get(WRITTEN, None)
    if state is None or state.env is None or data is None:
        return
    from postdeploy.pytestplugin import finish
    from postdeploy.run import budget

    signed = state.run_dir / "record.md" if state.run_dir else None
    timeline = (data.get("reports") or {}).get("timeline")
    prefix.append(
        templating.render(
            "summary.html.j2",
            verdict=(data["verdict"] or "unknown").upper(),
            colour=VERDICT_COLOURS.get(data["verdict"] or "", "#555"),
            env=state.env.name,
            phase=state.phase,
            targets=list(state.env.targets().items()),
            api_requests=data["api_requests"],
            logins=data["logins"],
            per_check=[(str(c.get("id")), c.get("requests", 0)) for c in data["checks"]],
            coverage=data.get("coverage") or "",
            reasons=data["verdict_reasons"],
            blocked=any(c.get("outcome") == "blocked" for c in data["checks"]),
            timeline=timeline if timeline and data.get("judged", True) else "",
            budget=budget.line(data),
            charts=config.stash.get(finish.CHARTS, ""),
            signoff=_md_links(signed.read_text(encoding="utf-8")) if signed is not None and signed.is_file() else [],
        )
    )


# A Markdown link of record.md: [label](target), the target without spaces or parentheses.
MD_LINK = re.compile(r"\[([^\]\n]+)\]\(([^)\s]+)\)")


def _md_links(markdown: str) -> list[tuple[str, str]]:
    """Split record.md into (text, "") and (label, target) parts; a script link stays text."""
    out, last = [], 0
    for m in MD_LINK.finditer(markdown):
        out.append((markdown[last : m.start()], ""))
        target = m.group(2)
        if target.lower().startswith(("javascript:", "data:", "vbscript:")):
            out.append((m.group(0), ""))
        else:
            out.append((m.group(1), target))
        last = m.end()
    out.append((markdown[last:], ""))
    return out


def linked(markdown: str) -> str:
    """record.md as HTML text for a <pre>: escaped, its Markdown links made links (the timeline pointer)."""
    return templating.render("linked.html.j2", parts=_md_links(markdown))


def write_allure_extras(results: Path, data: dict[str, Any]) -> None:
    """Write Allure's environment.properties (no secrets: the record is redacted) and its categories
    (allurecats.py: from the checks' outcomes and kinds)."""
    if not results.is_dir():
        return
    env = {
        "env": data.get("env"),
        "phase": data.get("phase"),
        "version": data.get("version"),
        "commit": data.get("commit"),
        "verdict": data.get("verdict"),
        **{f"target.{k}": v for k, v in (data.get("targets") or {}).items()},
    }
    lines = [f"{k}={str(v).replace(chr(10), ' ')}" for k, v in env.items() if v]
    (results / "environment.properties").write_text(redact("\n".join(lines)) + "\n", encoding="utf-8")
    allurecats.write(results, entries(data.get("checks") or []))
