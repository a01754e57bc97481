"""Integrations (item 24): payment provider, mail server and other external APIs answer.

No money moves and no mail is sent: FinCra gets one read-only GET, SMTP never gets MAIL FROM.
"""

from __future__ import annotations

from typing import Any

from postdeploy.checks.advice import advice
from postdeploy.config import Integrations
from postdeploy.core.results import Result, failed, not_configured, passed
from postdeploy.sources.integrationprobes import Probe, fincra_probe, http_probe, smtp_probe


def probe_all(cfg: Integrations) -> list[Probe]:
    """Ask every configured integration once."""
    probes = []
    if cfg.fincra is not None:
        probes.append(fincra_probe(cfg.fincra))
    if cfg.smtp is not None:
        probes.append(smtp_probe(cfg.smtp))
    for name, spec in cfg.http.items():
        probes.append(http_probe(name, spec, cfg.http_timeout, cfg.ca_bundle))
    return probes


def integrations(cfg: Integrations | None, env_path: str) -> Result:
    """Each configured integration reachable and authenticated."""
    if cfg is None:
        return not_configured(f"add [integrations.fincra], [integrations.smtp] or [integrations] http to {env_path}")
    probes = probe_all(cfg)
    if not probes:
        return not_configured(f"[integrations] in {env_path} names no fincra, smtp or http entry")
    evidence: dict[str, Any] = {p.name: repr(p) for p in probes}
    bad = [p for p in probes if not p.ok]
    if bad:
        return failed(
            f"{len(bad)} of {len(probes)} integration(s) failing: " + "; ".join(f"{p.name}: {p.detail}" for p in bad),
            value=len(bad),
            threshold=0,
            evidence=evidence,
            advice=advice("integrations"),
        )
    return passed(
        f"{len(probes)} integration(s) answer: " + ", ".join(p.name for p in probes),
        value=0,
        threshold=0,
        evidence=evidence,
    )
