"""The sandbox's Grafana, FinCra and SMTP stand-ins, in process: documented shapes and errors.

The clients of the suite talk to them exactly as they would to the real services; the
e2e tests then only have to show the wiring and the faults.
"""

from __future__ import annotations

import smtplib
import ssl
import time
from collections.abc import Iterator

import httpx
import pytest

from postdeploy.config import Fincra, Grafana, Smtp
from postdeploy.core.redaction import Secret
from postdeploy.sources.grafana import DashboardMissing, GrafanaClient
from postdeploy.sources.integrationprobes import fincra_probe, smtp_probe
from sandbox.common import state
from sandbox.infra import certs
from sandbox.standins.fincra import FincraServer
from sandbox.standins.grafana import DASHBOARD_UID, GrafanaServer, GrafanaStore
from sandbox.standins.mailserver import SMTP_USER, MailServer


def _bind(start) -> int:
    for _ in range(10):
        port = state.pick_port()
        try:
            start(port)
        except OSError:
            continue
        return port
    raise RuntimeError("no port")


@pytest.fixture
def grafana() -> Iterator[tuple[GrafanaServer, str]]:
    server = GrafanaServer(GrafanaStore(), "glsa_sandbox_token")
    _bind(server.start)
    yield server, server.url
    server.stop()


def test_grafana_dashboard_search_and_annotations(grafana):
    server, url = grafana
    client = GrafanaClient(Grafana(url=url, token=Secret("glsa_sandbox_token", "t")))
    assert client.dashboard(DASHBOARD_UID).title == "Amani Backend Overview"
    with pytest.raises(DashboardMissing, match="404 Dashboard not found"):
        client.dashboard("nope")
    headers = {"Authorization": "Bearer glsa_sandbox_token"}
    hits = httpx.get(f"{url}/api/search", params={"type": "dash-db", "query": "amani"}, headers=headers).json()
    assert [h["uid"] for h in hits] == [DASHBOARD_UID] and hits[0]["type"] == "dash-db"
    assert httpx.get(f"{url}/api/health").json()["database"] == "ok"
    now_ms = int(time.time() * 1000)
    ident = client.annotate("deploy 1.4.2", ["deploy", "amani"], now_ms, DASHBOARD_UID)
    found = httpx.get(f"{url}/api/annotations", params={"tags": ["deploy"], "from": now_ms - 1000}, headers=headers)
    assert [a["id"] for a in found.json()] == [ident] and found.json()[0]["text"] == "deploy 1.4.2"
    assert httpx.get(f"{url}/api/annotations", params={"tags": ["other"]}, headers=headers).json() == []
    bad = httpx.post(f"{url}/api/annotations", json={"tags": ["x"]}, headers=headers)
    assert bad.status_code == 400
    assert httpx.get(f"{url}/api/search").json() == {"message": "Unauthorized"}
    wrong = httpx.get(f"{url}/api/search", headers={"Authorization": "Bearer nope"})
    assert (wrong.status_code, wrong.json()) == (401, {"message": "Invalid API key"})
    server.store.hidden = True
    with pytest.raises(DashboardMissing):
        client.dashboard(DASHBOARD_UID)
    client.close()


def test_fincra_answers_its_documented_shapes():
    server = FincraServer("sk_test_sandbox_key")
    _bind(server.start)
    try:
        good = fincra_probe(Fincra(url=server.url, api_key=Secret("sk_test_sandbox_key", "t")))
        assert good.ok and "Amani Escrow Ltd" in good.detail
        wrong = fincra_probe(Fincra(url=server.url, api_key=Secret("sk_test_wrong_key", "t")))
        assert not wrong.ok and "Invalid authentication credentials" in wrong.detail
        assert httpx.get(f"{server.url}/profile/business/me").json() == {"message": "No API key found in request"}
        server.provider.down = True
        down = fincra_probe(Fincra(url=server.url, api_key=Secret("sk_test_sandbox_key", "t")))
        assert not down.ok and "503 with text/html" in down.detail
    finally:
        server.stop()


def test_smtp_ehlo_starttls_auth_and_no_mail(tmp_path):
    paths = state.Paths(tmp_path)
    certs.generate(paths)
    mail = MailServer(paths.server_cert, paths.server_key, "smtp-sandbox-password")
    port = _bind(mail.start)
    try:
        cfg = Smtp(
            host=f"127.0.0.1:{port}",
            user=SMTP_USER,
            password=Secret("smtp-sandbox-password", "t"),
            ca_bundle=str(paths.ca_file),
            timeout=5,
        )
        probe = smtp_probe(cfg)
        assert probe.ok, probe.detail
        assert "EHLO 250, STARTTLS 220, AUTH 235" in probe.detail
        refused = smtp_probe(
            Smtp(host=cfg.host, user=SMTP_USER, password=Secret("wrong-password", "t"), ca_bundle=cfg.ca_bundle)
        )
        assert not refused.ok and "AUTH refused (535)" in refused.detail and "wrong-password" not in refused.detail
        untrusted = smtp_probe(Smtp(host=cfg.host, timeout=5))
        assert not untrusted.ok and "STARTTLS handshake failed" in untrusted.detail
        # Even an authenticated client cannot send: the server refuses MAIL FROM.
        with smtplib.SMTP("127.0.0.1", port, timeout=5) as smtp:
            smtp.starttls(context=ssl.create_default_context(cafile=str(paths.ca_file)))
            smtp.login(SMTP_USER, "smtp-sandbox-password")
            code, _ = smtp.mail("probe@amani.test")
            assert code == 550
        mail.stop()
        down = smtp_probe(cfg)
        assert not down.ok and "cannot connect" in down.detail
    finally:
        mail.stop()
