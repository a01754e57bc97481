"""Time to detection of `--watch` next to fixed-interval analyses, on the same Prometheus data (not a test).

For each case: heal the sandbox (a fresh deploy), inject the fault at once, run
`pytest -m first15 --env local --watch 5m` and note when its verdict came (seconds from
the deploy). The fault then stays on until 5 minutes after the deploy, and two
fixed-interval rules are replayed on the Prometheus data of those 5 minutes:

- Argo Rollouts-shaped AnalysisRun: interval 1m, count 5, failureLimit 1. One measurement
  per minute (at deploy + 1m ... + 5m, each over the minute before); the run fails when
  failed measurements exceed failureLimit (the 2nd failure), succeeds after 5 measurements.
- Flagger-shaped canary analysis: interval 1m, threshold 5 (and 5 iterations): rolled back
  at the 5th failed check, promoted after 5 passing iterations.

A measurement fails when the error rate over its minute is >= [thresholds] error_rate
(1 %) or the p95 >= latency_p95 (500 ms): the suite's own bounds, so the three rules judge
the same thing. Log lines and Sentry issues are not metrics: the replayed rules cannot see
them (shown as "not seen").

    .venv/bin/python bench/watch.py [--cases errors_5xx,slow] [--window 5m] [--markdown BENCHMARKS.md]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
CASES = ["healthy", "errors_5xx_3", "errors_5xx_10", "errors_5xx", "slow", "error_logged"]
MAJOR, P95 = 0.01, 0.5


def sh(env: dict[str, str], *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False)


def prom_value(url: str, query: str, at: float) -> float | None:
    r = httpx.get(f"{url}/api/v1/query", params={"query": query, "time": f"{at:.3f}"}, timeout=10)
    r.raise_for_status()
    res = r.json()["data"]["result"]
    if not res:
        return None
    v = float(res[0]["value"][1])
    return None if v != v else v  # NaN: no requests in that minute


def measurement(url: str, job: str, at: float) -> tuple[bool, str]:
    """One fixed-interval measurement over the minute before `at`: (failed, what it saw)."""
    sel = f'job="{job}"'
    total = prom_value(url, f"sum(increase(http_requests_total{{{sel}}}[1m]))", at) or 0.0
    bad = prom_value(url, f'sum(increase(http_requests_total{{{sel},status=~"5.."}}[1m]))', at) or 0.0
    bad += prom_value(url, f"sum(increase(errors_total{{{sel}}}[1m]))", at) or 0.0
    p95 = prom_value(
        url, f"histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{{{sel}}}[1m])))", at
    )
    rate = bad / total if total else 0.0
    failed = total == 0 or rate >= MAJOR or (p95 is not None and p95 >= P95)
    return failed, f"{rate:.1%}/{(p95 or 0) * 1000:.0f}ms"


def replay(url: str, job: str, deployed: float, minutes: int = 5) -> dict[str, Any]:
    marks = [measurement(url, job, deployed + 60 * k) for k in range(1, minutes + 1)]
    fails = 0
    argo = flagger = None
    for k, (failed, _) in enumerate(marks, 1):
        fails += failed
        if argo is None and fails > 1:  # failureLimit 1
            argo = ("failed", 60 * k)
        if flagger is None and fails >= 5:  # threshold 5
            flagger = ("rolled back", 60 * k)
    return {
        "argo": argo or ("successful" if fails <= 1 else "failed", 60 * minutes),
        "flagger": flagger or ("promoted", 60 * minutes),
        "measurements": [m for _, m in marks],
        "failed": fails,
    }


def run_case(env: dict[str, str], case: str, window: float, reports: Path) -> dict[str, Any]:
    assert sh(env, sys.executable, "-m", "sandbox", "heal", timeout=180).returncode == 0
    if case != "healthy":
        proc = sh(env, sys.executable, "-m", "sandbox", "fault", case, timeout=120)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    state = json.loads((Path(env["POSTDEPLOY_SANDBOX_DIR"]) / "state.json").read_text())
    folder = reports / case
    proc = sh(
        env,
        sys.executable,
        "-m",
        "pytest",
        "-m",
        "first15",
        "--env",
        "local",
        f"--reports-dir={folder}",
        "-q",
        "--no-exports",
        "--watch",
        f"{window:.0f}s",
        timeout=window + 300,
    )
    record = json.loads(next(folder.glob("local/*-first15/record.json")).read_text())
    w = record.get("watch") or {}
    deployed = float(w.get("deployed_at") or 0)
    # The fault stays on for the fixed-interval rules' whole 5 minutes (+ a scrape).
    while time.time() < deployed + window + 3:
        time.sleep(min(5.0, deployed + window + 3 - time.time()))
    rules = replay(state["prometheus_url"], state["prometheus_job"], deployed, minutes=round(window / 60))
    first = next((e["elapsed"] for e in w.get("evaluations", []) if e.get("reasons")), None)
    return {
        "case": case,
        "first_finding": first,
        "verdict": record.get("verdict"),
        "watch": (w.get("decision"), w.get("decided_after_s")),
        "reasons": w.get("reasons"),
        **rules,
    }


def table(rows: list[dict[str, Any]], window: float) -> str:
    lines = [
        f"| case | `--watch {window / 60:.0f}m` verdict | seconds from deploy | Argo-shaped (1m, failureLimit 1, count 5) "
        "| Flagger-shaped (1m, threshold 5) | watch's first finding | per-minute error rate / p95 |",
        "|---|---|---:|---|---|---|---|",
    ]
    for r in rows:
        decision, after = r["watch"]
        lines.append(
            f"| {r['case']} | {decision} | {after:.0f} | {r['argo'][0]} at {r['argo'][1]} s "
            f"| {r['flagger'][0]} at {r['flagger'][1]} s | "
            + ("-" if r.get("first_finding") is None else f"{r['first_finding']:.0f} s")
            + f" | {', '.join(r['measurements'])} |"
        )
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", default=",".join(CASES))
    ap.add_argument("--window", default="5m")
    ap.add_argument("--markdown", help="append the table to this file")
    args = ap.parse_args()
    from postdeploy.core.durations import parse_duration

    window = parse_duration(args.window)
    cases = [c for c in args.cases.split(",") if c]
    unknown = [c for c in cases if c not in CASES]
    if unknown:
        print(f"unknown case(s) {unknown}; known: {', '.join(CASES)}", file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="bench-watch-", dir="/tmp"))
    env = {**os.environ, "POSTDEPLOY_SANDBOX_DIR": str(tmp / "sandbox")}
    env.pop("POSTDEPLOY_ENV", None)
    up = sh(env, sys.executable, "-m", "sandbox", "up", timeout=180)
    if up.returncode != 0:
        print(up.stdout + up.stderr, file=sys.stderr)
        return 1
    rows = []
    try:
        for case in cases:
            started = time.monotonic()
            row = run_case(env, case, window, tmp / "reports")
            rows.append(row)
            print(
                f"{case}: {row['watch']} argo {row['argo']} flagger {row['flagger']} ({time.monotonic() - started:.0f}s)"
            )
            print(f"  {row['reasons']}", flush=True)
    finally:
        sh(env, sys.executable, "-m", "sandbox", "down", timeout=120)
        shutil.rmtree(tmp, ignore_errors=True)
    out = table(rows, window)
    print(out)
    if args.markdown:
        with open(args.markdown, "a", encoding="utf-8") as fh:
            fh.write("\n" + out + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
