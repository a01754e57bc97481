"""The stand-ins answer as their vendors publish, and the suite's clients ask as they publish.

Each stand-in runs in process; the suite's own client talks to it through a recording
transport, and every request it sent (path, method, parameters, body) and every answer it
got is checked with jsonschema against the vendor's schema subset in selftests/contracts/
(each names its source and version in `x-source`). Seconds, no sandbox.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from contracts import load, operation
from postdeploy.checks.monitoring import sentry_answers
from postdeploy.config import Fincra, Grafana, Sentry, Slack
from postdeploy.core.errors import TargetUnreachable
from postdeploy.core.redaction import Secret
from postdeploy.sources.grafana import DashboardMissing, GrafanaClient
from postdeploy.sources.integrationprobes import fincra_probe
from postdeploy.sources.sentryapi import SentryClient, issues_seen_since, search_issues
from postdeploy.sources.slack import post
from sandbox.common import state
from sandbox.standins.fincra import FincraServer
from sandbox.standins.grafana import DASHBOARD_UID, GrafanaServer, GrafanaStore
from sandbox.standins.sentry import SentryServer, SentryStore
from sandbox.standins.slack import SlackServer


class Recorder(httpx.BaseTransport):
    """A real transport that keeps every request and answer that went through it."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.exchanges: list[tuple[httpx.Request, httpx.Response]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        response.read()
        self.exchanges.append((request, response))
        return response


def _start(server: Any) -> Any:
    for _ in range(10):
        try:
            server.start(state.pick_port())
        except OSError:
            continue
        return server
    raise RuntimeError("no free port")


@pytest.fixture
def running() -> Iterator[Callable[[Any], Any]]:
    servers: list[Any] = []

    def run(server: Any) -> Any:
        servers.append(_start(server))
        return server

    yield run
    for server in servers:
        server.stop()


def _check(
    doc: dict[str, Any], recorder: Recorder, base: str, media: str = "application/json", *, strict: bool = False
) -> list[str]:
    """Every exchange against the document; returns the operations seen. Fails naming each problem."""
    problems: list[str] = []
    seen: list[str] = []
    assert recorder.exchanges, "the client sent nothing"
    for request, response in recorder.exchanges:
        url = str(request.url)
        assert url.startswith(base), url
        path_and_query = url[len(base) :]
        op = operation(doc, request.method, path_and_query)
        seen.append(op.name)
        body = json.loads(request.content) if request.content else None
        problems += [f"request {request.method} {op.template}: {p}" for p in op.check_request(path_and_query, body)]
        answer = response.json() if media == "application/json" else response.text
        problems += [
            f"answer {response.status_code} to {op.name}: {p}"
            for p in op.check_response(response.status_code, answer, media, strict=strict)
        ]
    assert not problems, f"{doc['info']['title']} ({json.dumps(doc['x-source'])[:160]}...):\n" + "\n".join(problems)
    return seen


def test_sentry_stand_in_and_client_follow_sentrys_schema(running) -> None:
    doc = load("sentry-subset.json")
    server = running(SentryServer(SentryStore(), "sntrys_contract_token"))
    cfg = Sentry(
        org=state.SENTRY_ORG,
        project=state.SENTRY_PROJECT,
        token=Secret("sntrys_contract_token", "t"),
        url=server.url,
        project_id=state.SENTRY_PROJECT_ID,
        environment=state.ENVIRONMENT,
    )
    recorder = Recorder()
    client = SentryClient(cfg, transport=recorder)
    try:
        since = datetime.now(UTC) - timedelta(days=2)
        client.new_issues(since)
        issues_seen_since(client, since)
        assert search_issues(client, "is:unresolved", "14d"), "the stand-in returned no issues to check"
    finally:
        client.close()
    sentry_answers(cfg, transport=recorder)
    seen = _check(doc, recorder, server.url)
    assert set(seen) == {
        "GET /api/0/organizations/{organization_id_or_slug}/issues/",
        "GET /api/0/projects/{organization_id_or_slug}/{project_id_or_slug}/",
    }


def test_grafana_stand_in_and_client_follow_grafanas_schema(running) -> None:
    doc = load("grafana-subset.json")
    server = running(GrafanaServer(GrafanaStore(), "glsa_contract_token"))
    recorder = Recorder()
    client = GrafanaClient(Grafana(url=server.url, token=Secret("glsa_contract_token", "t")), transport=recorder)
    now_ms = int(time.time() * 1000)
    try:
        assert client.dashboard(DASHBOARD_UID).title
        with pytest.raises(DashboardMissing):  # its 404 answer is checked too
            client.dashboard("no-such-dashboard")
        client.annotate("deploy 1.4.2", ["postdeploy", "deploy"], now_ms, DASHBOARD_UID)
        client.annotate("deploy 1.4.3", ["postdeploy"], now_ms)
    finally:
        client.close()
    refused = GrafanaClient(Grafana(url=server.url, token=Secret("glsa_wrong_token", "t")), transport=recorder)
    with refused, pytest.raises(TargetUnreachable):  # and its 401
        refused.dashboard(DASHBOARD_UID)
    # How the annotation is found again (the selftests and a person reading the dashboard).
    with httpx.Client(transport=recorder, headers={"Authorization": "Bearer glsa_contract_token"}) as reader:
        found = reader.get(f"{server.url}/api/annotations", params={"tags": ["postdeploy"], "from": now_ms - 1000})
        assert len(found.json()) == 2
    # Grafana's document is generated from its Go structs (go-swagger), so a property it does
    # not list is one Grafana does not send: strict. (Sentry's and FinCra's are curated subsets.)
    seen = _check(doc, recorder, server.url, strict=True)
    assert set(seen) == {"GET /dashboards/uid/{uid}", "POST /annotations", "GET /annotations"}


def test_fincra_stand_in_and_client_follow_fincras_documentation(running) -> None:
    doc = load("fincra-subset.json")
    server = running(FincraServer("sk_test_contract_key"))
    recorder = Recorder()
    good = fincra_probe(Fincra(url=server.url, api_key=Secret("sk_test_contract_key", "t")), transport=recorder)
    assert good.ok, good.detail
    wrong = fincra_probe(Fincra(url=server.url, api_key=Secret("sk_test_wrong_key", "t")), transport=recorder)
    assert not wrong.ok
    assert _check(doc, recorder, server.url) == ["GET /profile/business/me"] * 2
    assert all(request.headers.get("api-key") for request, _ in recorder.exchanges), "FinCra's key header is api-key"


def test_slack_stand_in_and_client_follow_slacks_documentation(running) -> None:
    doc = load("slack-subset.json")
    server = running(SlackServer())
    recorder = Recorder()
    post(Slack(webhook=Secret(server.webhook_url, "w")), {"text": "postdeploy: deploy 1.4.2 verified"}, recorder)
    assert _check(doc, recorder, server.url, media="text/plain") == ["POST /services/{team}/{bot}/{secret}"]
