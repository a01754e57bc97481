"""The record keeper: opens a run's record, grows it from the pytest channel, writes it.

Registered by the plugin in the controller only. Under xdist, `pytest_runtest_logreport`
fires in the controller for every worker's reports, so this is the one place the record is
built (what a check says travels through channel.py). The record is written as each check
finishes (a killed run still says what it completed) and once more at the session's end,
its verdict from verdict.final_verdict, then the sign-off, Allure extras and the timeline.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from postdeploy.config import environments_dir
from postdeploy.core.redaction import redact
from postdeploy.outputs import signoff, timeline, watchview
from postdeploy.pytestplugin import finish, reporting, scope
from postdeploy.pytestplugin.state import WRITTEN, RunState, snapshot
from postdeploy.run import channel
from postdeploy.run.pastruns import History
from postdeploy.run.record import Record, incomplete_record, run_dir, suite_commit, write


def thresholds(env: Any) -> dict[str, Any]:
    """Return the thresholds and windows in force, as plain JSON values (they travel to xdist)."""
    values = {
        **dataclasses.asdict(env.thresholds),
        **{f"window_{k}": v for k, v in dataclasses.asdict(env.windows).items()},
        "wait": f"{env.wait.attempts} x {env.wait.interval:g}s",
    }
    return json.loads(json.dumps(values))


def record_start_up_error(config: pytest.Config, base: Path, name: str, phase: str, message: str) -> None:
    """Leave an `incomplete` record for a run stopped at start-up (exit 4), `latest` untouched.

    Without it, `pytest ... || true; python -m postdeploy verdict` would report the last
    real verdict, a success, for a run that checked nothing.
    """
    if not (environments_dir(config.rootpath) / f"{name}.toml").is_file():
        return  # an unknown environment has no reports folder to speak for
    try:
        folder = run_dir(base, name, phase)
        first = message.splitlines()[0] if message else "start-up error"
        reason = f"no check ran: pytest stopped at start-up (exit 4): {first}"
        write(folder, incomplete_record(name, phase, reason, exit_status=4), latest=False)
    except OSError:
        pass  # the usage error itself is what the user must see


def open_run(config: pytest.Config, state: RunState, base: Path) -> None:
    """Create the run folder and the record of this run; keep it growing (a RecordKeeper)."""
    assert state.env is not None
    try:
        state.run_dir = run_dir(base, state.env.name, state.phase)
    except OSError as exc:
        raise pytest.UsageError(f"cannot create the report folder under {base}: {exc.strerror}") from None
    env = state.env
    state.record = Record(
        env=env.name,
        phase=state.phase,
        targets=env.targets(),
        thresholds=thresholds(env),
        expected_version=env.expected.version,
        expected_commit=env.expected.commit,
        extra={
            "suite_commit": suite_commit(config.rootpath),
            "markexpr": config.option.markexpr or "",
            "allow_writes": state.allow_writes,
            "report_dir": str(state.run_dir),
        },
    )
    config.pluginmanager.register(RecordKeeper(state), "postdeploy-record")


class RecordKeeper:
    """Grows the record from every test report; registered in the controller only."""

    def __init__(self, state: RunState) -> None:
        self.state = state

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.state.scope.collect_errors.append(f"{report.nodeid or '.'}: {channel.last_line(report.longreprtext)}")

    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        msg = getattr(excinfo.value, "msg", None) or str(excinfo.value)
        self.state.scope.interrupted = f"{excinfo.typename}: {msg}" if msg else excinfo.typename

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        record = self.state.record
        assert record is not None
        have = record.checks.get(report.nodeid)
        said = channel.said_by(report, requests_before=int(have.requests or 0) if have else 0)
        if said is None:
            return
        record.add(report.nodeid, said)
        if report.when == "teardown" and self.state.run_dir is not None:
            # Written as each check finishes, so a killed run still says what it completed.
            data = snapshot(self.state, finished=False)
            write(self.state.run_dir, data, latest=data["judged"])


def finish_run(config: pytest.Config, state: RunState, exitstatus: int, usage_error: BaseException | None) -> None:
    """The session's end: the final record (its verdict decided once), its exports and the other outputs."""
    assert state.run_dir is not None and state.env is not None
    option = config.option

    def incomplete(checks: list[Any]) -> str:
        return scope.incomplete_reason(
            state.scope, checks, exitstatus=exitstatus, usage_error=usage_error, phase=state.phase, option=option
        )

    data = snapshot(state, finished=True, incomplete=incomplete, collect_errors=state.scope.collect_errors)
    data["exit_status"] = exitstatus
    judged = bool(data["judged"])
    covered = scope.coverage(state.scope, state.phase, option)
    if covered:
        data["coverage"] = covered
    when = finish.deployed_at(state)
    data["deployed_at"] = when.isoformat(timespec="seconds") if when else None
    data["reports"]["timeline"] = f"../{timeline.safe_name(str(data.get('version') or ''))}/timeline.html"
    write(state.run_dir, data, latest=judged)
    # After the final record is on disk: a hung export cannot leave it "incomplete".
    data["exports"] = finish.exports(
        state.env, data, state.run_dir, when, enabled=not config.getoption("postdeploy_no_exports")
    )
    if data["exports"]:
        write(state.run_dir, data, latest=judged)
    _outputs(config, state, data, when)


def _outputs(config: pytest.Config, state: RunState, data: dict[str, Any], when: Any) -> None:
    """The sign-off, Allure's extras, the timeline and the charts of a finished record."""
    assert state.run_dir is not None
    judged = bool(data["judged"])
    past = History(state.run_dir.parent, state.run_dir)
    previous = past.last_good_release(data.get("version", "")) if data["verdict"] == "rollback" else None
    (state.run_dir / "record.md").write_text(redact(signoff.render(data, previous)), encoding="utf-8")
    reporting.write_allure_extras(state.run_dir / "allure-results", data)
    finish.carry_allure_history(state.run_dir)
    if judged:
        finish.write_timeline(state.run_dir, data)
    config.stash[finish.CHARTS] = (finish.charts_html(state, when) if judged else "") + watchview.html_table(
        data.get("watch")
    )
    config.stash[WRITTEN] = data
