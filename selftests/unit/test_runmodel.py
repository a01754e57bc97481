"""The run model: outcomes and verdicts, one worst(), the record codec (old schemas read), the pytest
channel, the one function that decides the verdict, and Allure categories from outcome kinds."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

from postdeploy import cli
from postdeploy.core import results
from postdeploy.outputs import allurecats, pushgateway
from postdeploy.run import channel
from postdeploy.run.runmodel import (
    EXIT,
    SCHEMA,
    USAGE,
    CheckEntry,
    Outcome,
    RunRecord,
    Verdict,
    normalized,
    worst,
)
from postdeploy.run.verdict import final_verdict


def test_worst_outcome_and_verdict_win():
    assert worst([Outcome.PASSED, Outcome.SKIPPED, Outcome.FAILED, Outcome.BLOCKED], Outcome.PASSED) == "failed"
    assert worst([Outcome.INCONCLUSIVE, Outcome.BLOCKED], Outcome.PASSED) is Outcome.BLOCKED
    assert worst([Outcome.FAILED, Outcome.ERROR], Outcome.PASSED) is Outcome.ERROR
    assert worst([], Outcome.PASSED) is Outcome.PASSED
    assert worst([Verdict.SUCCESS, Verdict.INCOMPLETE], Verdict.SUCCESS) is Verdict.INCOMPLETE
    assert worst([Verdict.ISSUES, Verdict.ROLLBACK, Verdict.INCOMPLETE], Verdict.SUCCESS) is Verdict.ROLLBACK
    assert not Outcome.PENDING.judged and not Outcome.SKIPPED.judged and Outcome.BLOCKED.judged


def test_exit_codes_belong_to_the_model():
    assert {v: v.exit_code for v in Verdict} == {"success": 0, "issues": 1, "rollback": 2, "incomplete": 3}
    assert cli.EXIT is EXIT and cli.USAGE == USAGE == 4
    # The Pushgateway export does not reach into the command line for them.
    assert "postdeploy.cli" not in Path(pushgateway.__file__).read_text()


def test_a_schema_1_record_reads_with_its_pending_attestation_as_pending():
    old = {
        "schema": 1,
        "env": "prod",
        "phase": "first15",
        "verdict": "issues",
        "verdict_reasons": ["attestation pending: team.communicated"],
        "checks": [
            {"nodeid": "t.py::test_a", "id": "team.communicated", "outcome": "skipped", "severity": "minor",
             "attestation": {"status": "pending", "what": "tell the team"}, "requests": 0, "retries": []},
            {"nodeid": "t.py::test_b", "id": "deploy.version", "outcome": "passed", "value": {"version": "1"},
             "someday_key": 7},
        ],
    }  # fmt: skip
    record = RunRecord.from_json(old)
    assert record.schema == 1 and record.verdict is Verdict.ISSUES
    pending, passed = record.checks
    assert pending.outcome is Outcome.PENDING and pending.attestation_status == "pending"
    assert passed.extra == {"someday_key": 7}  # a key the model does not know is kept
    again = record.to_json()
    assert again["checks"][1]["someday_key"] == 7 and again["checks"][0]["outcome"] == "pending"
    assert normalized(old)["checks"][0]["outcome"] == "pending"
    assert final_verdict(old["checks"]).verdict == "issues"


def test_a_seeded_record_without_schema_or_optional_keys_reads():
    seed = {"env": "local", "phase": "first15", "version": "1.4.1", "verdict": "success", "checks": []}
    record = RunRecord.from_json(seed)
    assert record.schema == 1 and record.verdict is Verdict.SUCCESS and record.complete and record.judged
    assert RunRecord(verdict=Verdict.SUCCESS).schema == SCHEMA == 2


def test_an_entry_round_trips_and_writes_only_what_was_said():
    data = {"nodeid": "n", "id": "x", "outcome": "failed", "severity": "critical", "summary": "s", "value": 0,
            "writes": False, "retries": [], "requests": 2, "kind": "unreachable"}  # fmt: skip
    entry = CheckEntry.from_json(data)
    assert entry.to_json() == data
    entry.merge({"outcome": "error", "summary": "", "advice": None})
    assert entry.outcome is Outcome.ERROR and entry.summary == "s"  # the worst wins; nothing said changes nothing
    entry.merge({"outcome": "passed"})
    assert entry.outcome is Outcome.ERROR


def test_the_final_verdict_is_decided_in_one_place():
    critical = {"id": "a", "outcome": "failed", "severity": "critical", "summary": "down"}
    passed = {"id": "b", "outcome": "passed", "severity": "major"}
    over = {"phase": "first15", "limit": 1, "sent": 2, "exceeded": True}
    assert final_verdict([passed], budget=over).verdict is Verdict.ISSUES
    assert final_verdict([critical], budget=over).verdict is Verdict.ROLLBACK
    killed = final_verdict([critical], finished=False)
    assert killed.verdict is Verdict.INCOMPLETE and killed.so_far is Verdict.ROLLBACK and killed.reasons
    none = final_verdict([{"id": "c", "outcome": "skipped"}], incomplete="no check ran: every check skipped")
    assert none.verdict is Verdict.INCOMPLETE and none.reasons == ["no check ran: every check skipped"]
    broken = final_verdict([passed], collect_errors=["tests_x/test_y.py: SyntaxError"])
    assert broken.verdict is Verdict.ISSUES and "collection errors" in broken.reasons[-1]
    assert final_verdict([passed]).verdict is Verdict.SUCCESS and final_verdict([passed]).so_far is None


def _report(when: str, outcome: str, *said: dict, longrepr: object = None) -> SimpleNamespace:
    report = SimpleNamespace(when=when, outcome=outcome, duration=0.5, longrepr=longrepr, longreprtext="")
    report.user_properties = [("other", "x")]
    for message in said:
        channel.say(report, **message)
    return report


def test_the_channel_carries_what_a_check_says_to_the_record():
    meta = {"id": "team.communicated", "severity": "minor", "phases": ["first15"], "item": "P6"}
    skipped = _report(
        "call",
        "skipped",
        {"meta": meta},
        {"summary": "pending attestation: tell", "attestation": {"status": "pending"}},
        {"requests": 2},
        longrepr=("f", 1, "Skipped: pending attestation: tell"),
    )
    said = channel.said_by(skipped, requests_before=1)
    assert said is not None and said["outcome"] == "pending" and said["requests"] == 3
    assert channel.messages(skipped.user_properties)[0] == {"meta": meta}
    assert channel.said_by(_report("call", "passed"), 0) is None  # not a check
    judged = _report("call", "failed", {"meta": meta}, {"outcome": "inconclusive", "summary": "too few"})
    assert channel.said_by(judged, 0)["outcome"] == "inconclusive"  # type: ignore[index]
    assert channel.judged(judged.user_properties) == {"outcome": "inconclusive", "summary": "too few"}
    crashed = _report("setup", "failed", {"meta": meta})
    assert channel.said_by(crashed, 0)["outcome"] == "error"  # type: ignore[index]


def test_allure_categories_come_from_outcomes_and_kinds(tmp_path: Path):
    cats = allurecats.categories_json()
    assert all("messageRegex" not in c for c in cats)
    names = {c["name"] for c in cats}
    assert {"Target unreachable or hanging", "Not configured", "Blocked by a failed dependency"} <= names
    checks = [
        CheckEntry("tests_a/test_b.py::test_down", outcome=Outcome.FAILED, kind=results.UNREACHABLE),
        CheckEntry("tests_a/test_b.py::test_cfg[x]", outcome=Outcome.SKIPPED, kind=results.NOT_CONFIGURED),
        CheckEntry("tests_a/test_b.py::test_bad", outcome=Outcome.FAILED),
        CheckEntry("tests_a/test_b.py::test_ok", outcome=Outcome.PASSED),
    ]
    files = {}
    for name in ("test_down", "test_cfg[x]", "test_bad", "test_ok"):
        files[name] = tmp_path / f"{name}-result.json"
        files[name].write_text(json.dumps({"name": name, "fullName": f"tests_a.test_b#{name.split('[')[0]}"}))
    allurecats.write(tmp_path, checks)
    trace = {n: json.loads(p.read_text()).get("statusDetails", {}).get("trace", "") for n, p in files.items()}
    assert trace == {
        "test_down": "[postdeploy category: unreachable]",
        "test_cfg[x]": "[postdeploy category: not_configured]",
        "test_bad": "[postdeploy category: failed]",
        "test_ok": "",
    }
    assert json.loads((tmp_path / "categories.json").read_text()) == cats
