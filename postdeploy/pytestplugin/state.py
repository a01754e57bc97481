"""The plugin's per-run state, kept in `config.stash` (never on private attributes)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from postdeploy.pytestplugin.scope import Scope

if TYPE_CHECKING:
    from postdeploy.config import Environment
    from postdeploy.run.record import Record
    from postdeploy.sources.apiclient import ApiClient
    from postdeploy.sources.promql import PromClient


@dataclass
class RunState:
    """What one pytest process knows about the run."""

    env: Environment | None = None
    phase: str = "all"
    allow_writes: bool = False
    deployed_at: datetime | None = None
    run_dir: Path | None = None
    record: Record | None = None
    api: ApiClient | None = None
    # The run's Prometheus client, once a check asked for it: a check that could not reach
    # Prometheus becomes the root of the "prometheus" gate (gates.py).
    prom: PromClient | None = None
    requests_seen: int = 0
    retries_seen: int = 0
    # The controller's own client under xdist (it logs in once for every worker).
    login_client: ApiClient | None = None
    login_wire: str | None = None
    is_worker: bool = False
    # What the run selected of its phase, collection errors, an interruption (scope.py).
    scope: Scope = field(default_factory=Scope)
    # Dependencies found down in this process: gate name -> (root check id, what it said) (gates.py).
    gates: dict[str, tuple[str, str]] = field(default_factory=dict)

    @property
    def inconclusive_is_issue(self) -> bool:
        return self.env.thresholds.inconclusive_is_issue if self.env else True


STATE = pytest.StashKey[RunState]()
# The record as written (verdict, request counts), set in the controller at session end.
WRITTEN = pytest.StashKey[dict]()


def snapshot(
    state: RunState,
    *,
    finished: bool,
    incomplete: Callable[[list[Any]], str] | None = None,
    collect_errors: Sequence[str] = (),
) -> dict[str, Any]:
    """Return the record of a run as it stands (its logins counted); an unfinished one has no verdict."""
    assert state.record is not None
    requests = state.record.requests()
    logins = 0
    for client in (state.api, state.login_client):
        if client is not None:
            logins += client.logins_made
            requests += client.logins_made if client is state.login_client else 0
    return state.record.to_json(
        inconclusive_is_issue=state.inconclusive_is_issue,
        api_requests=requests,
        logins=logins,
        budget=state.env.budget if state.env is not None else None,
        finished=finished,
        incomplete=incomplete,
        collect_errors=collect_errors,
    )
