"""The catalog of checks agrees with the checks in tests_*, the README and the sign-off (issue 13)."""

from __future__ import annotations

import doctest
import subprocess
import sys
from pathlib import Path

import pytest

import postdeploy
from postdeploy import catalog
from postdeploy.catalog import configured
from postdeploy.checks.advice import advice
from postdeploy.config import Api, Environment, Expected
from postdeploy.core.results import NOT_CONFIGURED
from postdeploy.outputs import signoff
from postdeploy.run import attest, verdict

ROOT = Path(__file__).resolve().parents[2]
SUITE = ["tests_smoke", "tests_db", "tests_metrics", "tests_integrations"]


class Collector:
    """Collects (id, item, severity, phases) from every check's markers, as the plugin reads them."""

    def __init__(self) -> None:
        self.found: dict[str, tuple[object, ...]] = {}

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        from postdeploy.pytestplugin import markers

        for item in session.items:
            meta = markers.check_meta(item)
            if meta is not None:
                self.found[str(meta["id"])] = (meta["item"], meta["severity"], tuple(meta["phases"]))  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def suite_checks() -> dict[str, tuple[object, ...]]:
    # In a fresh interpreter: the markers as `pytest --collect-only` over tests_* reads them (~1 s).
    code = (
        "import json, sys, pytest\n"
        "sys.path.insert(0, 'selftests/unit')\n"
        "from test_catalog import Collector\n"
        "c = Collector()\n"
        f"rc = pytest.main(['--collect-only', '-q', '-p', 'no:cacheprovider', *{SUITE!r}], plugins=[c])\n"
        "print('CHECKS=' + json.dumps(c.found))\n"
        "sys.exit(rc)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    import json

    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("CHECKS="))
    return {k: tuple(v[:2]) + (tuple(v[2]),) for k, v in json.loads(line.removeprefix("CHECKS=")).items()}


def test_every_check_in_tests_has_a_catalog_entry_and_the_reverse(suite_checks):
    assert sorted(set(suite_checks) - set(catalog.BY_ID)) == [], "checks without a catalog entry"
    assert sorted(set(catalog.BY_ID) - set(suite_checks)) == [], "catalog entries without a check in tests_*"


def test_markers_agree_with_the_catalog(suite_checks):
    wrong = {
        cid: (found, (catalog.BY_ID[cid].item, catalog.BY_ID[cid].severity, catalog.BY_ID[cid].phases))
        for cid, found in suite_checks.items()
        if cid in catalog.BY_ID
        and found != (catalog.BY_ID[cid].item, catalog.BY_ID[cid].severity, catalog.BY_ID[cid].phases)
    }
    assert wrong == {}, "marker (item, severity, phases) != catalog"


def test_every_entry_is_complete():
    from postdeploy.pytestplugin import markers

    assert catalog.PHASES == markers.PHASES and catalog.SEVERITIES == markers.SEVERITIES
    labels = {label for lines in catalog.SIGNOFF.values() for label in lines}
    assert len(catalog.BY_ID) == len(catalog.CHECKS), "duplicate ids"
    for spec in catalog.CHECKS:
        assert spec.advice, f"{spec.id}: no advice"
        assert spec.signoff in labels, f"{spec.id}: sign-off line {spec.signoff!r} not in the template"
        assert spec.passes and spec.group in catalog.GROUPS, spec.id
        assert set(spec.phases) <= set(catalog.PHASES) and spec.severity in catalog.SEVERITIES, spec.id
        assert set(spec.needs) <= set(catalog.NEEDS), f"{spec.id}: unknown need {spec.needs}"
    # Every line of the template stands for at least one check.
    assert all(ids for lines in catalog.signoff_template().values() for _, ids in lines)


def test_the_old_tables_read_from_the_catalog():
    assert catalog.signoff_template() == signoff.TEMPLATE
    assert catalog.manual_items() == attest.MANUAL
    assert set(attest.MANUAL) == {"smoke.manual", "team.communicated", "support.channels", "analytics.reviewed"}
    assert advice("deploy.running").endswith(catalog.ROLLBACK)
    assert advice("auth.login.refused").startswith("first check the synthetic user")
    assert advice("no.such.check") == ""
    from postdeploy.checks import security

    assert security.ADVICE_TLS == catalog.advice("tls.cert") == catalog.advice("tls.cert.warning")


def test_the_readme_tables_are_the_generated_ones():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    for key in catalog.GROUPS:
        assert catalog.BEGIN.format(group=key) in text, f"README: no generated table for {key}"
    assert catalog.readme(text) == text, "README check tables are stale: run `make docs`"


def test_checks_command_lists_the_catalog(capsys):
    from postdeploy.cli import main

    assert main(["checks"]) == 0
    listed = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert listed == [s.id for s in catalog.CHECKS]
    assert main(["checks", "--phase", "weekly", "--markdown"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("| check | phase |") and "| backup.restore | weekly | 30 | critical |" in out
    assert "| health |" not in out


def test_not_configured_is_one_message_with_a_kind():
    env = Environment(name="t", path="environments/t.toml", api=Api(base_url="http://x"))
    found = configured.missing(env, ("database",))
    assert found is not None and found.kind == NOT_CONFIGURED and found.outcome == "skipped"
    assert found.summary == "not configured: add a [database] section with dsn and password_env to environments/t.toml"
    assert configured.missing(env, ("expected",)).summary.startswith(  # type: ignore[union-attr]
        "not configured: pass --expect-version or set [expected]"
    )
    ready = Environment(
        name="t", path="environments/t.toml", api=Api(base_url="http://x"), expected=Expected(version="1.2.3")
    )
    assert configured.missing(ready, ("expected",)) is None
    # The verdict keys on the kind, not on the text.
    entry = {"id": "backup.fresh", "outcome": "skipped", "severity": "critical", "summary": found.summary}
    assert verdict.decide([entry])[0] == "success"
    assert verdict.decide([{**entry, "kind": NOT_CONFIGURED}]) == (
        "issues",
        [
            "critical check backup.fresh not run: add a [database] section with dsn and password_env to environments/t.toml"
        ],
    )


def test_the_package_docstring_example_runs():
    assert doctest.testmod(postdeploy, raise_on_error=False).failed == 0


def test_checks_piped_into_a_reader_that_leaves_prints_no_traceback():
    """`python -m postdeploy checks | head -1`: a closed pipe is not an error of ours."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "postdeploy", "checks"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    proc.stdout.close()  # the reader is gone before the first line
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0 and "Traceback" not in err, err
