"""Fixtures: session-scoped, lazy clients (a run that reads no database never connects to it).

Override any of them in a conftest.py of your own: a fixture of the same name wins.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NoReturn

import pytest

from postdeploy import catalog
from postdeploy.catalog import configured
from postdeploy.checks.smoke import wait_ready
from postdeploy.config import Environment
from postdeploy.core import gates
from postdeploy.core.errors import TargetError
from postdeploy.core.redaction import redact
from postdeploy.core.results import UNREACHABLE, Result
from postdeploy.pytestplugin import markers, reporting, rerun
from postdeploy.pytestplugin.state import STATE, RunState
from postdeploy.run import channel
from postdeploy.run.pastruns import History
from postdeploy.sources import runtime as runtime_mod
from postdeploy.sources import throttle
from postdeploy.sources.apiclient import ApiClient, Login
from postdeploy.sources.logsource import LogSource
from postdeploy.sources.promql import PromClient
from postdeploy.sources.sentryapi import SentryClient


def _state(config: pytest.Config) -> RunState:
    state = config.stash.get(STATE, None)
    if state is None or state.env is None:
        raise pytest.UsageError("no environment: pass --env NAME (a file environments/NAME.toml) or set POSTDEPLOY_ENV")
    return state


KIND_ATTR = reporting.KIND_ATTR


def skip(summary: str, kind: str = "") -> NoReturn:
    """Skip the running check; a kind ("not_configured") goes into its record entry."""
    __tracebackhide__ = True
    exc = pytest.skip.Exception(summary)
    if kind:
        setattr(exc, KIND_ATTR, kind)
    raise exc


def fail(message: str, kind: str = "") -> NoReturn:
    """Fail the running check (a fixture: an error); a kind ("unreachable") goes into its record entry."""
    __tracebackhide__ = True
    exc = pytest.fail.Exception(message, pytrace=False)
    if kind:
        setattr(exc, KIND_ATTR, kind)
    raise exc


def _not_configured(env: Environment, need: str) -> NoReturn:
    __tracebackhide__ = True
    result = configured.result(env, need)
    skip(result.summary, result.kind)


@pytest.fixture(scope="session")
def target(pytestconfig: pytest.Config) -> Environment:
    """The environment under test (`--env`), validated."""
    env = _state(pytestconfig).env
    assert env is not None
    return env


def equip(client: ApiClient, env: Environment) -> ApiClient:
    """Give the API client what it needs to recognise a limiter and name a hung dependency."""
    if env.logs is not None and any(sig.log for sig in env.api.throttle):
        source = LogSource(env.logs)

        def count_log(pattern: Any, since: datetime) -> int | None:
            try:
                return sum(1 for ln in source.read(since) if pattern.search(ln.raw))
            except TargetError:
                return None

        client.count_log = count_log
    database = env.database
    if database is not None:
        from postdeploy.sources.db import probe

        client.dependency_probe = lambda: probe(database)
    return client


@pytest.fixture(scope="session")
def api(pytestconfig: pytest.Config, target: Environment) -> Iterator[ApiClient]:
    """The API client; under xdist it reuses the controller's one login."""
    state = _state(pytestconfig)
    # Writes stay refused here; the `check` fixture lifts that for the duration of a
    # check marked `writes`, and only when the run has --allow-writes.
    client = equip(ApiClient(target.api, allow_writes=False), target)
    wire = getattr(pytestconfig, "workerinput", {}).get("postdeploy_login")
    if wire:
        client.adopt_login(Login.from_wire(json.loads(wire)))
    state.api = client
    yield client
    client.close()


@pytest.fixture(scope="session")
def login(pytestconfig: pytest.Config, api: ApiClient) -> Login:
    """The outcome of the run's single login with the synthetic user."""
    return api.login()


@pytest.fixture(scope="session")
def ready(api: ApiClient, target: Environment) -> Result:
    """Waits (bounded) for the release to answer its ping endpoint; the result, not an exception."""
    return wait_ready(api, target.wait.attempts, target.wait.interval)


@pytest.fixture(scope="session")
def prom(pytestconfig: pytest.Config, target: Environment) -> Iterator[PromClient]:
    """The Prometheus client for the environment's server."""
    if target.prometheus is None:
        _not_configured(target, "prometheus")
    assert target.prometheus is not None
    client = PromClient(target.prometheus)
    _state(pytestconfig).prom = client
    yield client
    client.close()


@pytest.fixture(scope="session")
def db(target: Environment) -> Iterator[Any]:
    """A read-only psycopg connection with a statement timeout and an application_name."""
    from postdeploy.sources.db import connect

    if target.database is None:
        _not_configured(target, "database")
    assert target.database is not None
    conn, error = None, ""
    try:
        conn = connect(target.database)
    except TargetError as exc:
        error = str(exc)
    if conn is None:
        # Outside the except block: inside it, pytest prints the message twice around
        # "During handling of the above exception, another exception occurred".
        fail(error, UNREACHABLE)
    yield conn
    conn.close()


@pytest.fixture(scope="session")
def logs(target: Environment) -> LogSource:
    """The application's log source (file, docker or kubectl)."""
    if target.logs is None:
        _not_configured(target, "logs")
    assert target.logs is not None
    return LogSource(target.logs)


@pytest.fixture(scope="session")
def sentry(target: Environment) -> Iterator[SentryClient]:
    """The Sentry web API client."""
    if target.sentry is None:
        _not_configured(target, "sentry")
    assert target.sentry is not None
    client = SentryClient(target.sentry)
    yield client
    client.close()


@pytest.fixture(scope="session")
def history(pytestconfig: pytest.Config, target: Environment) -> History:
    """Earlier records of this environment (the run in progress excluded)."""
    state = _state(pytestconfig)
    if state.run_dir is None:
        return History(pytestconfig.rootpath / "reports" / target.name)
    return History(state.run_dir.parent, state.run_dir)


@dataclass(frozen=True)
class Deployment:
    """When the release under test started, and what the runtime says about it."""

    deployed_at: datetime | None
    source: str
    status: runtime_mod.RuntimeStatus | None
    error: str = ""


@pytest.fixture(scope="session")
def deployment(pytestconfig: pytest.Config, target: Environment) -> Deployment:
    """The deploy time (`--deployed-at`, else the runtime's start time) and the runtime status."""
    state = _state(pytestconfig)
    status, error = None, ""
    if target.runtime is not None:
        try:
            status = runtime_mod.status(target.runtime)
        except TargetError as exc:
            error = str(exc)
    if state.deployed_at is not None:
        return Deployment(state.deployed_at, "--deployed-at", status, error)
    if status is not None and status.started_at is not None:
        return Deployment(
            status.started_at, f"{target.runtime.kind} start time" if target.runtime else "", status, error
        )
    return Deployment(None, "unknown", status, error)


class Check:
    """Judges one check's result: records the evidence, then fails when the result is not a pass.

    It knows its check from the marker (`checklist(ITEM, "id")`): `id`, and `spec`, the
    catalog's entry (None for a check the catalog does not know, e.g. in a conftest of your own).
    """

    def __init__(self, item: pytest.Item, state: RunState) -> None:
        self.item = item
        self.state = state
        self.result: Result | None = None
        meta = markers.check_meta(item)
        self.id = str(meta["id"]) if meta else ""
        self.spec = catalog.get(self.id)
        self.getfixturevalue: Any = getattr(item, "_request", None) and item._request.getfixturevalue  # type: ignore[attr-defined]
        # Throttle evidence from before this check is not this check's.
        self.throttle_mark = len(state.api.throttled) if state.api is not None else 0

    def _throttled(self, result: Result) -> Result:
        """A failure that is what a rate limiter made of the check says so, at major severity at most."""
        api = self.state.api
        if result.outcome not in ("failed", "inconclusive") or api is None:
            return result
        events = api.throttle_events(self.throttle_mark)
        if not events or not throttle.caused(result, events):
            return result
        result = throttle.reframe(result, events, api.pacer.last_minute(), api.pacer.describe())
        meta = markers.check_meta(self.item) or {}
        if meta.get("severity") != "critical":
            result.severity = None  # a major or minor check keeps its own severity
        return result

    def fixture(self, name: str) -> Any:
        """A fixture's value asked for late (only when the check needs it); a fixture that failed
        (the database unreachable) raises TargetError with its message, a skip stays a skip."""
        return rerun.late_fixture(self.getfixturevalue, name)

    def requires(self, *needs: str) -> None:
        """Skip as "not configured" unless the environment has every need (keys of catalog.NEEDS)."""
        __tracebackhide__ = True
        env = self.state.env
        found = configured.missing(env, needs) if env is not None else None
        if found is not None:
            skip(found.summary, found.kind)

    def judge(self, result: Result) -> None:
        """Record the result; returns on a pass, else ends the check (raises): failed, skipped or inconclusive.

        A failure without advice of its own gets the catalog's advice for this check."""
        __tracebackhide__ = True
        result = self._throttled(result)
        if not result.ok and not result.advice and self.spec is not None:
            result.advice = self.spec.advice
        self.result = result
        check_id = self.id
        if gates.is_down(check_id, result.outcome, result.value):
            # A root failed: the checks that need it are blocked, not failures of their own.
            self.state.gates[gates.ROOTS[check_id]] = (check_id, redact(result.summary)[:200])
        if result.outcome == "skipped":
            skip(redact(result.summary), result.kind)
        entry = {
            "outcome": result.outcome,
            "summary": redact(result.summary),
            "value": result.value,
            "threshold": result.threshold,
            "evidence": {k: redact(str(v)) for k, v in result.evidence.items()},
            "advice": result.advice,
        }
        if result.severity:
            entry["severity"] = result.severity
        if result.kind:
            entry["kind"] = result.kind
        if result.data is not None:
            entry["data"] = json.loads(redact(json.dumps(result.data, default=str)))
        channel.say(self.item, **entry)
        reporting.attach_allure(entry)
        if not result.ok:
            if result.outcome == "inconclusive" and not self.state.inconclusive_is_issue:
                pytest.skip(redact(result.message()))
            pytest.fail(redact(result.message()), pytrace=False)


def _note_prometheus(item: pytest.Item, state: RunState, check_id: str, judge: Check, before: int) -> None:
    """A check that could not reach Prometheus (and did not pass) is the root of the "prometheus" gate."""
    prom = state.prom
    if prom is None or prom.unreached <= before or (judge.result is not None and judge.result.ok):
        return
    channel.say(item, unreached=["prometheus"])
    if "prometheus" not in state.gates:
        state.gates["prometheus"] = (check_id, redact(prom.unreachable)[:200])


@pytest.fixture
def check(request: pytest.FixtureRequest) -> Iterator[Check]:
    """The judge of the current check; also counts the API requests the check caused."""
    state = _state(request.config)
    meta = markers.check_meta(request.node)
    if meta is not None:
        reporting.label_allure(meta)
    judge = Check(request.node, state)
    judge.getfixturevalue = request.getfixturevalue
    found = gates.blocker(state.gates, meta["depends_on"]) if meta is not None else None  # type: ignore[arg-type]
    if found is not None:
        entry = gates.blocked_entry(*found)
        channel.say(request.node, **entry)
        pytest.skip(entry["summary"])
    if judge.spec is not None:
        # What the catalog says the check needs configured: "not configured" otherwise.
        judge.requires(*judge.spec.needs)
    writes = meta is not None and bool(meta["writes"]) and state.allow_writes
    if writes:
        request.getfixturevalue("api").allow_writes = True
    unreached = state.prom.unreached if state.prom is not None else 0
    yield judge
    if meta is not None and "prometheus" in meta["depends_on"]:  # type: ignore[operator]
        _note_prometheus(request.node, state, str(meta["id"]), judge, unreached)
    if writes and state.api is not None:
        state.api.allow_writes = False
    if state.api is not None:
        sent, retries = state.api.requests_sent, state.api.retries[state.retries_seen :]
        channel.say(request.node, requests=sent - state.requests_seen, retries=retries)
        state.requests_seen, state.retries_seen = sent, len(state.api.retries)
