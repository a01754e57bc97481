"""HTML the suite writes comes from jinja2 templates: a planted `<script>` shows as text, never as markup.

A check's summary and evidence, a target's answer, a Prometheus error: any of them may hold
`<script>alert(1)</script>`. report.html, timeline.html and the charts must carry it escaped
only, and a secret must be masked even when it holds characters that escaping rewrites.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from postdeploy.core.errors import TargetError
from postdeploy.core.redaction import Secret
from postdeploy.outputs import charts, templating, timeline, watchview
from postdeploy.pytestplugin import reporting

ROOT = Path(__file__).resolve().parents[2]
PLANT = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
DEAD = "http://127.0.0.1:9"  # nothing listens on the discard port


def _escaped_only(page: str, where: str) -> None:
    assert PLANT not in page, f"{where} holds the planted script as markup"
    assert ESCAPED in page, f"{where} does not show the planted script as text"


def test_a_planted_script_is_text_in_report_and_timeline(pytester: pytest.Pytester) -> None:
    pytester.mkdir("environments")
    (pytester.path / "environments" / "t.toml").write_text(f'[api]\nbase_url = "{DEAD}"\nconnect_timeout = "0.5s"\n')
    pytester.makepyfile(
        test_evil=f"""
import pytest
from postdeploy.core.results import failed

@pytest.mark.first15
@pytest.mark.checklist(1, "ev.evil")
@pytest.mark.severity("major")
def test_evil(check):
    check.judge(failed("the body was {PLANT}", evidence={{"body": "{PLANT}"}}))
"""
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "--env", "t", "-m", "first15")
    assert result.ret == 1, result.stdout.str()[-2000:]
    folder = max(pytester.path.glob("reports/t/2*/report.html"), key=os.path.getmtime).parent
    record = json.loads((folder / "record.json").read_text())
    assert PLANT in json.dumps(record)  # the record keeps the text as it was; HTML escapes it
    report = (folder / "report.html").read_text()
    _escaped_only(report, "report.html")
    assert 'class="additional-summary prefix"' in report and "Verdict: ISSUES" in report
    page = (folder.parent / "unknown" / "timeline.html").read_text()
    _escaped_only(page, "timeline.html")
    assert "<li><b>ev.evil</b> (major, failed): the body was " + ESCAPED in page


def test_a_planted_script_is_text_in_the_charts_and_watch_table(monkeypatch: pytest.MonkeyPatch) -> None:
    span = charts.span_for(now=1000.0, deployed_at=990.0, window=30.0, rate_window=5.0, points=120)
    svg = charts.svg_chart(f"p95 {PLANT}", [(995.0, 0.1)], span, 990.0, 0.5, "{:.0f} ms", 1000.0)
    _escaped_only(svg, "a chart")
    assert f'aria-label="p95 {ESCAPED}"' in svg
    table = watchview.html_table({"evaluations": [{"elapsed": 5.0, "so_far": PLANT}], "decision": None})
    _escaped_only(table, "the watch table")

    from types import SimpleNamespace

    class Prom:
        def __init__(self, cfg: object) -> None:
            pass

        def close(self) -> None:
            pass

    env: object = SimpleNamespace(
        prometheus=SimpleNamespace(job="api"),
        charts=SimpleNamespace(enabled=True, rate_window=5.0, points=120),
        thresholds=SimpleNamespace(error_rate=0.01, latency_p95=0.5),
    )
    monkeypatch.setattr(charts, "PromClient", Prom)
    monkeypatch.setattr(charts, "p95_series", lambda p, j, s: ([(995.0, 0.2)], {"p95": "q"}))
    monkeypatch.setattr(charts, "error_rate_series", lambda p, j, s: ([(995.0, 0.0)], {"requests": f'x{{a="{PLANT}"}}'}))
    section = charts.render(env, 1000.0, None, 30.0)  # type: ignore[arg-type]
    _escaped_only(section, "the charts' range queries")
    assert section.count('class="postdeploy-chart"') == 2

    def unreachable(*_: object) -> None:
        raise TargetError(f"Prometheus answered {PLANT}", target="prometheus")

    monkeypatch.setattr(charts, "error_rate_series", unreachable)
    _escaped_only(charts.render(env, 1000.0, None, 30.0), "the charts' note")  # type: ignore[arg-type]


def test_a_secret_is_masked_before_escaping_could_hide_it(tmp_path: Path) -> None:
    secret = Secret("pa<ss&w0rd-html", "test")
    data = {"phase": "first15", "verdict": "issues", "start": "2026-11-27T01:15:00+00:00", "version": "1.0"}
    data["checks"] = [{"id": "x", "outcome": "failed", "severity": "major", "summary": f"login {secret.reveal()}"}]
    env_dir = tmp_path / "prod"
    (env_dir / "20261127T011500Z-first15").mkdir(parents=True)
    (env_dir / "20261127T011500Z-first15" / "record.json").write_text(json.dumps(data))
    page = timeline.write(env_dir, "1.0").read_text()
    assert "login ***" in page
    assert "pa<ss" not in page and "pa&lt;ss" not in page and "w0rd-html" not in page
    assert "w0rd-html" not in reporting.linked(f"[a](b) {secret.reveal()}")


def test_rendering_refuses_an_unknown_name() -> None:
    # StrictUndefined: a typo in a template or its caller fails loudly instead of printing nothing.
    with pytest.raises(Exception, match="'unavailable' is undefined"):
        templating.render("charts.html.j2")


def test_importing_the_suite_does_not_load_jinja2() -> None:
    # jinja2 loads at the first render (session end); pytest-html may load it on its own.
    code = (
        "import json, sys\n"
        "import postdeploy, postdeploy.pytestplugin.plugin, postdeploy.pytestplugin.reporting, postdeploy.outputs.timeline, postdeploy.outputs.charts\n"
        "import postdeploy.outputs.watch, postdeploy.pytestplugin.finish, postdeploy.cli\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('jinja2', 'markupsafe'))))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == []
