"""What happens once a run's record is final: charts, timeline, Allure history and the exports.

Called by the plugin in the xdist controller (or the only process) at session end. None of
it may change the verdict or the exit code: a Pushgateway, Grafana or Slack that cannot be
reached is noted in the record (`exports`) and on the terminal, never raised.
"""

from __future__ import annotations

import shutil
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from postdeploy.checks.metrics import window_since
from postdeploy.config import Environment
from postdeploy.core.errors import PostdeployError
from postdeploy.pytestplugin.state import RunState
from postdeploy.sources import runtime as runtime_mod

# The charts section of report.html, made at session end before pytest-html writes.
CHARTS = pytest.StashKey[str]()


def deployed_at(state: RunState) -> datetime | None:
    """The deploy time as the `deployment` fixture resolves it: --deployed-at, else the runtime's start."""
    if state.deployed_at is not None:
        return state.deployed_at
    env = state.env
    if env is None or env.runtime is None:
        return None
    try:
        return runtime_mod.status(env.runtime).started_at
    except PostdeployError:
        return None


def charts_html(state: RunState, when: datetime | None) -> str:
    """The report's charts over the window the first15 metric checks judged."""
    env = state.env
    if env is None:
        return ""
    from postdeploy.outputs import charts  # at session finish only: start-up stays small

    now = time.time()
    window = window_since(when, now, env.windows.first15)
    return charts.render(env, now, when, env.windows.first15, judged=window.seconds)


def carry_allure_history(run_dir: Path) -> Path | None:
    """Copy `history/` of the newest earlier Allure report of this env into this run's allure-results.

    Allure builds its trend and retries views from `allure-results/history/`, which is the
    `history/` folder of the previous generated report (`make allure-report` writes one).
    """
    results = run_dir / "allure-results"
    if not results.is_dir():
        return None
    earlier = sorted(
        (p for p in run_dir.parent.iterdir() if p.is_dir() and not p.is_symlink() and p.name < run_dir.name),
        reverse=True,
    )
    for folder in earlier:
        history = folder / "allure-report" / "history"
        if history.is_dir():
            shutil.copytree(history, results / "history", dirs_exist_ok=True)
            return history
    return None


def write_timeline(run_dir: Path, data: dict[str, Any]) -> Path | None:
    """Rewrite the deployment's timeline; a folder that cannot be written leaves the run's own reports intact."""
    from postdeploy.outputs import timeline

    try:
        return timeline.write(run_dir.parent, str(data.get("version") or ""))
    except OSError:
        return None


def exports(env: Environment, data: dict[str, Any], run_dir: Path, when: datetime | None, *, enabled: bool) -> dict:
    """Push, annotate and post as the environment opts in; return what each did (or why it failed)."""
    done: dict[str, str] = {}
    if not enabled:
        return {"all": "off (--no-exports)"} if (env.pushgateway or env.grafana_annotation or env.slack) else {}
    jobs: list[tuple[str, Any]] = []
    # Each exporter is imported only when its export is on: start-up stays small.
    if env.pushgateway is not None:
        from postdeploy.outputs import pushgateway

        cfg_p = env.pushgateway
        jobs.append(("pushgateway", lambda: pushgateway.push(cfg_p, data)))
    if env.grafana is not None and env.grafana_annotation is not None:
        from postdeploy.outputs import annotation

        cfg_g, cfg_a = env.grafana, env.grafana_annotation
        jobs.append(("grafana", lambda: annotation.annotate(cfg_g, cfg_a, data, when)))
    if env.slack is not None and env.slack.notify_verdict:
        from postdeploy.sources import slack

        cfg_s = env.slack
        report = str(run_dir / "report.html")
        if cfg_s.report_url:
            report = f"{cfg_s.report_url.rstrip('/')}/{run_dir.parent.name}/{run_dir.name}/report.html"

        def _slack() -> str:
            slack.post(cfg_s, slack.verdict_message(data, report))
            return "verdict posted to the Slack webhook"

        jobs.append(("slack", _slack))
    for name, job in jobs:
        try:
            done[name] = str(job())
        except PostdeployError as exc:
            done[name] = f"FAILED: {exc}"
    return done
