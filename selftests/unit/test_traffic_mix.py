"""The sandbox's synthetic traffic mix and the error faults calibrated on it (no servers).

The injected 5xx faults spare the probes (ping, health, readiness); the app fails the other
requests a little more often so that the error rate the checks read matches the fault's name.
These tie the app's constants to the traffic's and the history's.
"""

from __future__ import annotations

import pytest

from sandbox.app import service
from sandbox.infra import history
from sandbox.standins import traffic


def test_the_probes_are_the_fault_exempt_endpoints_and_a_small_share():
    shares = traffic.shares()
    assert sum(shares.values()) == pytest.approx(1.0)
    probes = {path for path, _ in traffic.PROBES}
    assert {path.rstrip("/") for path in probes} == service.FAULT_EXEMPT
    probe_share = sum(shares[p] for p in probes)
    # A real service's probes: a few per cent of its requests, not a third.
    assert 0.03 < probe_share < 0.10
    assert probe_share == pytest.approx(service.PROBE_SHARE, rel=0.02)


@pytest.mark.parametrize("fault", sorted(service.RATES_5XX))
def test_the_5xx_faults_produce_the_error_rate_they_are_named_for(fault: str):
    class Active:
        def active(self, name: str) -> bool:
            return name == fault

    shares = traffic.shares()
    injectable = sum(s for path, s in shares.items() if path.rstrip("/") not in service.FAULT_EXEMPT)
    overall = injectable * service._share_5xx(Active())
    assert overall == pytest.approx(service.RATES_5XX[fault], rel=0.02)
    if fault != "errors_5xx":
        assert fault.endswith(f"_{round(service.RATES_5XX[fault] * 100)}")


def test_the_business_rates_are_the_ones_the_history_writes():
    picks = {path: w for path, _, w in traffic.REQUESTS}
    per_s = {path: traffic.USER_RATE * w / sum(picks.values()) for path, w in picks.items()}
    assert per_s["signup"] == pytest.approx(history.REGISTRATIONS_PER_S, rel=0.05)
    assert per_s["escrow"] == pytest.approx(history.ESCROW_HOLDS_PER_S, rel=0.1)
    # Sign-ups (slow password hashing) stay under 2 % of all requests: out of p95.
    assert traffic.shares()["signup"] < 0.02
