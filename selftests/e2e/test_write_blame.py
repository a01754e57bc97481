"""Write checks that blame the right side: a 4xx to the suite's own create body is a configuration
error naming `write_create_body`, the status and the service's answer; the verdict is `issues`."""

from __future__ import annotations

import re
from pathlib import Path

from sandboxrun import ROOT, Sandbox


def _with_bad_body(tmp_path: Path) -> Path:
    """local.toml with a create body the sandbox's API rejects (422: ProjectCreate's total_amount must be > 0)."""
    folder = tmp_path / "environments"
    folder.mkdir()
    text = (ROOT / "environments" / "local.toml").read_text()
    text, n = re.subn(
        r"(\n\[api\]\n)", r'\1write_create_body = { title = "postdeploy synthetic check", description = "a body with a negative amount", total_amount = -1 }\n', text
    )
    assert n == 1
    (folder / "local.toml").write_text(text)
    return folder


def test_a_rejected_write_body_is_a_configuration_error_not_a_rollback(box: Sandbox, tmp_path: Path):
    env = {**box.env, "POSTDEPLOY_ENV_DIR": str(_with_bad_body(tmp_path))}
    run = Sandbox(box.folder, env).run_suite(tmp_path / "reports", "-k", "write or login", "--allow-writes")
    check = run.check("business.flow.write")
    assert check["outcome"] == "failed", run.output[-3000:]
    summary = check["summary"]
    assert "configuration error" in summary and "write_create_body" in summary, summary
    assert "answered 422" in summary and "total_amount" in summary, summary
    assert check["severity"] == "major"
    assert run.record["verdict"] == "issues", run.record["verdict_reasons"]
    assert "Traceback" not in run.output
