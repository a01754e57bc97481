"""The plugin driven through pytester: write gating, markers, usage errors."""

from __future__ import annotations

import pytest

ENV = """
[api]
base_url = "http://127.0.0.1:9"
connect_timeout = "0.5s"
"""

CHECKS = """
import pytest
from postdeploy.sources.apiclient import WritesNotAllowed

@pytest.mark.first15
@pytest.mark.checklist(10, "reader")
@pytest.mark.severity("minor")
def test_reader_cannot_write(api):
    with pytest.raises(WritesNotAllowed):
        api.request("POST", "/api/v1/projects", json={})

@pytest.mark.first15
@pytest.mark.checklist(10, "writer")
@pytest.mark.severity("minor")
@pytest.mark.writes
def test_writer_may_write(api, check):
    assert api.allow_writes
"""


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.mkdir("environments")
    (pytester.path / "environments" / "t.toml").write_text(ENV)
    pytester.makepyfile(test_pt_checks=CHECKS)  # a name no self-test module has
    return pytester


def test_only_checks_marked_writes_may_write_and_only_with_allow_writes(suite: pytest.Pytester):
    result = suite.runpytest("-p", "no:cacheprovider", "--env", "t", "--allow-writes")
    result.assert_outcomes(passed=2)
    result = suite.runpytest("-p", "no:cacheprovider", "--env", "t", "-rs")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["*writes to the target are off: pass --allow-writes*"])


def test_a_check_without_severity_is_a_usage_error(suite: pytest.Pytester):
    suite.makepyfile(
        test_pt_bad="""
import pytest

@pytest.mark.first15
@pytest.mark.checklist(1, "x")
def test_x():
    pass
"""
    )
    result = suite.runpytest("-p", "no:cacheprovider", "--env", "t")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*needs @pytest.mark.severity*"])


def test_unknown_marker_is_refused(suite: pytest.Pytester):
    suite.makepyfile(test_pt_typo="import pytest\n\n@pytest.mark.frist15\ndef test_x():\n    pass\n")
    result = suite.runpytest("-p", "no:cacheprovider", "--strict-markers", "--env", "t")
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*'frist15' not found in `markers`*"])


def test_prod_like_environment_refuses_allow_writes(suite: pytest.Pytester):
    (suite.path / "environments" / "p.toml").write_text("writes_allowed = false\n" + ENV)
    result = suite.runpytest("-p", "no:cacheprovider", "--env", "p", "--allow-writes")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--allow-writes refused*writes_allowed = false*"])


def test_verdict_command_exit_codes(tmp_path):
    import json

    from postdeploy.cli import main

    assert main(["verdict", "--reports", str(tmp_path)]) == 3
    for n, verdict in enumerate(["rollback", "success", "issues"]):
        run = tmp_path / "prod" / f"20261127T0{n}0000Z-first15"
        run.mkdir(parents=True)
        (run / "record.json").write_text(json.dumps({"verdict": verdict, "env": "prod", "verdict_reasons": []}))
    assert main(["verdict", "--reports", str(tmp_path)]) == 1  # the newest run: issues
    assert main(["verdict", str(tmp_path / "prod" / "20261127T000000Z-first15")]) == 2
    (tmp_path / "broken.json").write_text("{")
    assert main(["verdict", str(tmp_path / "broken.json")]) == 3


KILLED = """
import os
import pytest

@pytest.mark.first15
@pytest.mark.checklist(1, "first")
@pytest.mark.severity("major")
def test_first(check):
    from postdeploy.core.results import passed
    check.judge(passed("done"))

@pytest.mark.first15
@pytest.mark.checklist(2, "second")
@pytest.mark.severity("major")
def test_second():
    os._exit(137)  # the run is killed here
"""


def test_a_killed_run_leaves_a_record_of_what_completed(suite: pytest.Pytester):
    import json

    suite.makepyfile(test_pt_killed=KILLED)
    suite.runpytest_subprocess("-p", "no:cacheprovider", "--env", "t", "-k", "first or second", "test_pt_killed.py")
    record = json.loads(next(suite.path.glob("reports/t/*/record.json")).read_text())
    assert record["complete"] is False and record["verdict"] == "incomplete"
    assert [c["id"] for c in record["checks"]] == ["first"]
    from postdeploy.cli import main

    assert main(["verdict", "--reports", str(suite.path / "reports")]) == 3


def test_rollback_signoff_names_the_previous_good_release():
    from postdeploy.outputs.signoff import render

    record = {
        "env": "prod",
        "version": "1.4.2",
        "phase": "first15",
        "verdict": "rollback",
        "who": "oncall@host",
        "verdict_reasons": ["critical check health failed"],
        "targets": {"api": "https://api.amani.com"},
        "checks": [
            {"id": "health", "outcome": "failed", "summary": "health says 'unhealthy'"},
            {"id": "readiness", "outcome": "passed"},
        ],
    }
    text = render(record, {"version": "1.4.1", "commit": "abc1234"})
    assert "- [ ] FAILED Health checks passing (health failed, readiness passed)" in text
    assert "Status: ❌ Rollback" in text and "git checkout abc1234" in text and "**1.4.1 (commit abc1234)**" in text
    assert "- [ ] not run yet Backup created" in text
