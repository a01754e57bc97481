"""The plugin's per-run state, kept in `config.stash` (never on private attributes)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from postdeploy.scope import Scope

if TYPE_CHECKING:
    from postdeploy.apiclient import ApiClient
    from postdeploy.config import Environment
    from postdeploy.promql import PromClient
    from postdeploy.record import Record


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
