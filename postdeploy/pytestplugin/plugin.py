"""The pytest plugin: options, markers, fixtures, report folders and the deployment record.

Only glue lives here; what a check measures and how a verdict is decided live in the
library modules (checks/, verdict.py, record.py) so they work without pytest.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from postdeploy.config import ENV_VAR, Environment, load_environment
from postdeploy.core import gates
from postdeploy.core.errors import ConfigError
from postdeploy.pytestplugin import keeper, markers, reporting, scope, startup, watchplugin
from postdeploy.pytestplugin.fixtures import (  # noqa: F401  (fixtures are found by name in this module)
    api,
    check,
    db,
    deployment,
    equip,
    history,
    login,
    logs,
    prom,
    ready,
    sentry,
    target,
)
from postdeploy.pytestplugin.state import STATE, WRITTEN, RunState
from postdeploy.run import attest, budget, channel

# Each option: flag, ini name, environment variable, help. One description, three sources.
OPTIONS = {
    "env": ("--env", "postdeploy_env", ENV_VAR, "environment to check: environments/NAME.toml"),
    "expect_version": (
        "--expect-version",
        "postdeploy_expect_version",
        "POSTDEPLOY_EXPECT_VERSION",
        "version that must be live (overrides the environment file)",
    ),
    "expect_commit": (
        "--expect-commit",
        "postdeploy_expect_commit",
        "POSTDEPLOY_EXPECT_COMMIT",
        "commit that must be live (full or at least 7 characters)",
    ),
    "deployed_at": (
        "--deployed-at",
        "postdeploy_deployed_at",
        "POSTDEPLOY_DEPLOYED_AT",
        "deploy time, ISO 8601 (default: the runtime's start time of the release)",
    ),
    "reports_dir": (
        "--reports-dir",
        "postdeploy_reports_dir",
        "POSTDEPLOY_REPORTS_DIR",
        "where run folders are written (default: reports/ under the rootdir)",
    ),
    "pushgateway_url": (
        "--pushgateway-url",
        "postdeploy_pushgateway_url",
        "POSTDEPLOY_PUSHGATEWAY_URL",
        "push the run's samples to this Pushgateway (overrides [pushgateway] url)",
    ),
    # --watch, --watch-interval, --watch-traffic (watchplugin.py)
    **watchplugin.OPTIONS,
}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("postdeploy", "post-deployment verification")
    for dest, (flag, ini, var, help_text) in OPTIONS.items():
        group.addoption(
            flag, dest=f"postdeploy_{dest}", default=None, metavar="VALUE", help=f"{help_text} [env {var}, ini {ini}]"
        )
        parser.addini(ini, help_text, default=None)
    group.addoption(
        "--allow-writes",
        dest="postdeploy_allow_writes",
        action="store_true",
        default=False,
        help="let checks marked 'writes' change the target (create and clean up test records)",
    )
    attest.addoption(group, parser)
    group.addoption(
        "--no-exports",
        dest="postdeploy_no_exports",
        action="store_true",
        default=False,
        help="do not push to the Pushgateway, annotate Grafana or post the verdict to Slack for this run",
    )


def setting(config: pytest.Config, dest: str) -> tuple[str | None, str]:
    """Return an option's value and where it came from: flag, environment variable or ini."""
    flag, ini, var, _ = OPTIONS[dest]
    value = config.getoption(f"postdeploy_{dest}")
    if value:
        return value, flag
    if os.environ.get(var):
        return os.environ[var], f"{var} environment variable"
    ini_value = config.getini(ini)
    if ini_value:
        return str(ini_value), f"{ini} ini setting"
    return None, ""


def _refuse_empty(config: pytest.Config, dest: str) -> None:
    """An expectation given empty (a CI variable that was not set) is a usage error, not "not configured"."""
    flag, _, var, _ = OPTIONS[dest]
    if config.getoption(f"postdeploy_{dest}") == "":
        raise pytest.UsageError(
            f"{flag} is empty: give the {dest.split('_')[1]} that must be live, or leave the flag out"
        )
    if config.getoption(f"postdeploy_{dest}") is None and var in os.environ and not os.environ[var].strip():
        raise pytest.UsageError(f"{var} is set but empty: give the {dest.split('_')[1]} that must be live, or unset it")


def reports_base(config: pytest.Config) -> Path:
    """Where run folders go: --reports-dir (or its variable, ini), else reports/ under the rootdir."""
    reports, _ = setting(config, "reports_dir")
    return Path(reports) if reports else config.rootpath / "reports"


def phase_of(markexpr: str) -> str:
    """Name the run after its phase marker (`-m first15` -> "first15"); anything else is "custom"."""
    expr = (markexpr or "").strip()
    if not expr:
        return "all"
    return expr if expr in markers.PHASES else "custom"


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    markers.register(config)
    config.pluginmanager.register(reporting, "postdeploy-reporting")
    state = RunState(allow_writes=bool(config.getoption("postdeploy_allow_writes")))
    config.stash[STATE] = state
    attest.configure(config)
    workerinput = getattr(config, "workerinput", None)
    state.is_worker = workerinput is not None
    name, source = setting(config, "env")
    if not name:
        return
    try:
        _configure_env(config, state, name, source)
    except pytest.UsageError as exc:
        if workerinput is None and not config.option.collectonly:
            keeper.record_start_up_error(config, reports_base(config), name, phase_of(config.option.markexpr), str(exc))
        raise


def _with_options(config: pytest.Config, env: Environment) -> Environment:
    """The environment with what the command line (or its variables, ini) overrides: expectations, Pushgateway."""
    for dest in ("expect_version", "expect_commit"):
        _refuse_empty(config, dest)
    version, _ = setting(config, "expect_version")
    commit, _ = setting(config, "expect_commit")
    if version or commit:
        expected = dataclasses.replace(
            env.expected, **{k: v for k, v in (("version", version), ("commit", commit)) if v}
        )
        env = dataclasses.replace(env, expected=expected)
    push_url, push_source = setting(config, "pushgateway_url")
    if push_url:
        if "://" not in push_url:
            raise pytest.UsageError(
                f"URL without a scheme: {push_url!r} from {push_source} (write http:// or https://)"
            )
        from postdeploy.config import Pushgateway

        pushgw = env.pushgateway or Pushgateway(url=push_url)
        env = dataclasses.replace(env, pushgateway=dataclasses.replace(pushgw, url=push_url))
    return env


def _deployed_at(config: pytest.Config) -> datetime | None:
    """--deployed-at (or its variable, ini) as an aware time; None when not given."""
    when, when_source = setting(config, "deployed_at")
    if not when:
        return None
    try:
        parsed = datetime.fromisoformat(when.replace("Z", "+00:00"))
    except ValueError:
        raise pytest.UsageError(
            f"invalid deploy time {when!r} from {when_source}: use ISO 8601, e.g. 2026-11-27T01:30:00Z"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _configure_env(config: pytest.Config, state: RunState, name: str, source: str) -> None:
    workerinput = getattr(config, "workerinput", None)
    try:
        env = load_environment(name, config.rootpath, source=source)
    except ConfigError as exc:
        raise pytest.UsageError(str(exc)) from None
    env = _with_options(config, env)
    if workerinput is None:
        # Before any check, report or export: every start-up problem, one line each (exit 4).
        found = startup.problems(env)
        if found:
            raise pytest.UsageError("\n".join(found))
    if state.allow_writes and not env.writes_allowed:
        raise pytest.UsageError(f"--allow-writes refused: {env.path} sets writes_allowed = false")
    state.deployed_at = _deployed_at(config)
    state.env = env
    state.phase = phase_of(config.option.markexpr)
    if workerinput is None:
        watchplugin.configure(config, state, setting)
    if workerinput is not None:
        state.run_dir = Path(workerinput["postdeploy_run_dir"]) if workerinput.get("postdeploy_run_dir") else None
        state.login_wire = workerinput.get("postdeploy_login")
    elif not config.option.collectonly:
        keeper.open_run(config, state, reports_base(config))
    if state.run_dir is not None:
        # Set before pytest-html, junitxml and allure read their options in their own pytest_configure.
        if hasattr(config.option, "allure_report_dir") and not config.option.allure_report_dir:
            config.option.allure_report_dir = str(state.run_dir / "allure-results")
        if not state.is_worker:
            if hasattr(config.option, "htmlpath") and not config.option.htmlpath:
                config.option.htmlpath = str(state.run_dir / "report.html")
                config.option.self_contained_html = True
                # Our stylesheet puts the verdict, charts and sign-off on the first screen.
                config.option.css = [
                    *(getattr(config.option, "css", None) or []),
                    str(Path(__file__).parents[1] / "outputs" / "report.css"),
                ]
            if not config.option.xmlpath:
                config.option.xmlpath = str(state.run_dir / "junit.xml")
    _add_metadata(config, state)


METADATA_KEYS = ("Python", "Platform", "Packages", "Plugins", "Environment", "Phase", "Targets", "Thresholds")


def _prune_metadata(config: pytest.Config) -> dict[str, Any] | None:
    """Drop what pytest-metadata collected beyond our keys: its CI variables may hold credentials."""
    try:
        from pytest_metadata.plugin import metadata_key
    except ImportError:  # pragma: no cover - pytest-html brings pytest-metadata
        return None
    meta = config.stash.get(metadata_key, None)
    if meta is not None:
        for key in [k for k in meta if k not in METADATA_KEYS]:
            meta.pop(key, None)
    return meta


def _add_metadata(config: pytest.Config, state: RunState) -> None:
    # Workers prune too: pytest-metadata merges each worker's table into the controller's
    # when the worker goes down, after the controller pruned its own.
    meta = _prune_metadata(config)
    if meta is None or state.env is None:
        return
    meta["Environment"] = state.env.name
    meta["Phase"] = state.phase
    meta["Targets"] = state.env.targets()
    meta["Thresholds"] = keeper.thresholds(state.env)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist controller: hand every worker the run folder and the one login of the run."""
    state = node.config.stash[STATE]
    node.workerinput["postdeploy_run_dir"] = str(state.run_dir) if state.run_dir else ""
    if state.env is None:
        return
    if state.login_wire is None:
        from postdeploy.sources.apiclient import ApiClient

        client = equip(ApiClient(state.env.api), state.env)
        try:
            state.login_wire = json.dumps(client.login().to_wire())
        finally:
            client.close()
        state.login_client = client
    node.workerinput["postdeploy_login"] = state.login_wire


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    state = config.stash[STATE]
    # Root checks first (deploy.running, wait.ready, auth.login): their dependants are then
    # recorded as blocked by them instead of failing on their own (gates.py).
    order = list(gates.ROOTS)
    items.sort(key=lambda item: _root_rank(item, order))
    checks = 0
    for item in items:
        meta = markers.check_meta(item)
        if meta is None:
            continue
        checks += 1
        if meta["writes"] and not state.allow_writes:
            item.add_marker(
                pytest.mark.skip(reason="writes to the target are off: pass --allow-writes to run this write check")
            )
    if checks and state.env is None and not config.option.collectonly:
        raise pytest.UsageError("no environment: pass --env NAME (a file environments/NAME.toml) or set POSTDEPLOY_ENV")


def pytest_deselected(items: list[pytest.Item]) -> None:
    if not items:
        return
    state = items[0].config.stash.get(STATE, None)
    if state is not None:
        state.scope.deselected += sum(1 for item in items if scope.of_phase(item, state.phase))


def pytest_collection_finish(session: pytest.Session) -> None:
    state = session.config.stash.get(STATE, None)
    if state is not None:
        state.scope.selected = sum(1 for item in session.items if scope.of_phase(item, state.phase))


def _root_rank(item: pytest.Item, order: list[str]) -> int:
    mark = item.get_closest_marker("checklist")
    check_id = str(mark.args[1]) if mark is not None and len(mark.args) == 2 else ""
    return order.index(check_id) if check_id in order else len(order)


def pytest_report_header(config: pytest.Config) -> list[str]:
    state = config.stash.get(STATE, None)
    if state is None or state.env is None:
        return []
    env = state.env
    lines = [
        f"postdeploy: env {env.name} ({env.path}), phase {state.phase}, writes {'ALLOWED' if state.allow_writes else 'off'}"
    ]
    lines += [f"  target {k}: {v}" for k, v in env.targets().items()]
    lines.append("  thresholds: " + ", ".join(f"{k}={v}" for k, v in keeper.thresholds(env).items()))
    if env.expected.version or env.expected.commit:
        lines.append(f"  expected: version {env.expected.version or '-'} commit {env.expected.commit or '-'}")
    lines.append(f"  request budget: {env.budget.of(state.phase)} API requests for phase {state.phase}")
    exports = [n for n in ("pushgateway", "grafana_annotation", "slack") if getattr(env, n) is not None]
    if exports:
        off = " (off: --no-exports)" if config.getoption("postdeploy_no_exports") else ""
        lines.append(f"  exports: {', '.join(exports)}{off}")
    if state.run_dir:
        lines.append(f"  reports: {state.run_dir}")
    return lines


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: Any) -> Any:
    outcome = yield
    report = outcome.get_result()
    meta = markers.check_meta(item)
    if meta is not None:
        channel.say(report, meta=meta)


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # tryfirst: the verdict must exist before pytest-html writes its report.
    state = session.config.stash.get(STATE, None)
    if state is None or state.record is None or state.run_dir is None or state.is_worker:
        return
    _prune_metadata(session.config)  # once more: the workers' tables have been merged in by now
    exc = sys.exc_info()[1]  # pytest calls this hook while a UsageError of the collection propagates
    keeper.finish_run(session.config, state, int(exitstatus), exc if isinstance(exc, pytest.UsageError) else None)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    state = config.stash.get(STATE, None)
    data = config.stash.get(WRITTEN, None)
    if state is None or state.run_dir is None or data is None:
        return
    terminalreporter.write_sep("=", "postdeploy")
    terminalreporter.write_line(
        f"verdict: {data['verdict'].upper()}   env {data['env']}   phase {data['phase']}   "
        f"API requests: {data['api_requests']} ({data['logins']} login)"
    )
    if data.get("coverage"):
        terminalreporter.write_line(f"  covered: {data['coverage']}")
    for reason in data["verdict_reasons"]:
        terminalreporter.write_line(f"  - {reason}")
    terminalreporter.write_line(f"report:  {state.run_dir / 'report.html'}")
    terminalreporter.write_line(f"record:  {state.run_dir / 'record.json'}")
    if data.get("judged", True):
        terminalreporter.write_line(f"timeline: {(state.run_dir / data['reports']['timeline']).resolve()}")
    else:
        terminalreporter.write_line(
            "latest, timeline: unchanged (no check was judged; they show the last real verdict)"
        )
    terminalreporter.write_line(budget.line(data))
    for name, what in (data.get("exports") or {}).items():
        terminalreporter.write_line(f"export {name}: {what}")
