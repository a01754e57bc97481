"""Command line of the sandbox: ``python -m sandbox up | down | status | fault NAME | heal``."""

from __future__ import annotations

import argparse
import os
import select
import signal
import subprocess
import sys
import time
from typing import Any

import httpx

from sandbox.common import state
from sandbox.control.cleanup import clean_stale, read_runtime
from sandbox.control.faults import FAULTS
from sandbox.infra.history import HISTORY_FAULTS, parse_span

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_DOWN = 0, 1, 2, 3
UP_TIMEOUT = 60.0


def _control(st: dict[str, Any], method: str, route: str, timeout: float = 3.0) -> Any:
    """Call the supervisor's control API; raises httpx.HTTPError when it does not answer."""
    response = httpx.request(method, f"{st['control_url']}{route}", timeout=timeout)
    return response.status_code, response.json()


def _live_status(paths: state.Paths) -> tuple[dict[str, Any], dict[str, Any]] | None:
    st = state.read_state(paths)
    if not st or not state.pid_alive(st.get("supervisor_pid")):
        return None
    try:
        code, body = _control(st, "GET", "/status")
    except (httpx.HTTPError, ValueError):
        return None
    return (st, body) if code == 200 else None


def _print_status(st: dict[str, Any], status: dict[str, Any]) -> None:
    comps = status["components"]
    print(f"sandbox: {'ready' if status['ready'] else 'up, not ready'} (state {status['state_file']})")
    app = comps["app"]
    print(f"  app         {app['state']:<26} {st['api_url']}  version {app['version']}, pid {app['pid']}")
    plain = "serves the API (fault)" if "redirect_missing" in status["faults"] else "redirects to https"
    print(f"  plain http  {plain:<26} {st['http_url']}  (serves /metrics)")
    tls = app.get("tls") or {}
    print(f"  tls         {'cert expires ' + str(tls.get('cert_expires', '?'))[:10]:<26} CA {st['ca_file']}")
    print(
        f"  postgres    {comps['postgres']['state']:<26} {st['db_host']}:{st['db_port']}"
        f"  db {st['db_name']}, user {st['db_user']}"
    )
    print(f"  prometheus  {comps['prometheus']['state']:<26} {st['prometheus_url']}  job {st['prometheus_job']}")
    print(
        f"  sentry      {comps['sentry']['state']:<26} {st['sentry_url']}"
        f"  org {st['sentry_org']}, project {st['sentry_project']}"
    )
    traffic = comps["traffic"]
    print(f"  traffic     {traffic['state']:<26} {traffic['sent']} sent, {traffic['failed']} failed")
    if "grafana" in comps and st.get("grafana_url"):
        print(f"  grafana     {comps['grafana']['state']:<26} {st['grafana_url']}  dashboard {st['grafana_dashboard']}")
        print(f"  alertmgr    {comps['alertmanager']['state']:<26} {st.get('alertmanager_url') or '-'}")
        print(f"  fincra      {comps['fincra']['state']:<26} {st['fincra_url']}")
        print(f"  smtp        {comps['smtp']['state']:<26} {st['smtp_host']}:{st['smtp_port']}  user {st['smtp_user']}")
    print(f"  control     {'running':<26} {st['control_url']}")
    print(f"  deployed_at {status['deployed_at']}")
    print(f"  faults      {', '.join(status['faults']) or 'none'}")
    print(f"  logs        {st['log_file']}")


def cmd_up(
    paths: state.Paths, alertmanager: bool = True, history: float | None = None, history_faults: tuple[str, ...] = ()
) -> int:
    started = time.monotonic()
    live = _live_status(paths)
    if live:
        st, status = live
        _print_status(st, status)
        if status["ready"]:
            print("sandbox was already up")
            if history and (
                st.get("history_seconds") != round(history) or st.get("history_faults") != list(history_faults)
            ):
                # The history is written only before Prometheus first starts.
                print("its history was not changed: run `python -m sandbox down` first, then `up --history ...`")
                return EXIT_FAIL
            return EXIT_OK
        print("sandbox is up but not healthy: run `python -m sandbox heal` (or `down`)")
        return EXIT_FAIL
    if state.read_state(paths) or read_runtime(paths):
        clean_stale(paths)  # a previous supervisor died without cleaning up
    state.ensure_secrets(paths)
    read_fd, write_fd = os.pipe()
    with open(paths.supervisor_log, "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "sandbox.control.supervisor", "--state-dir", str(paths.root), "--ready-fd", str(write_fd)]
            + ([] if alertmanager else ["--no-alertmanager"])
            + ([f"--history={history:.0f}"] if history else [])
            + [f"--history-fault={name}" for name in history_faults],
            cwd=state.REPO_ROOT,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            pass_fds=(write_fd,),
            start_new_session=True,
        )
    os.close(write_fd)
    message = _read_line(read_fd, UP_TIMEOUT)
    os.close(read_fd)
    elapsed = time.monotonic() - started
    if message == "ready":
        live = _live_status(paths)
        if live:
            _print_status(*live)
        print(f"sandbox up in {elapsed:.1f}s")
        return EXIT_OK
    reason = message.removeprefix("error: ") if message else (f"no answer from the supervisor within {UP_TIMEOUT:.0f}s")
    _stop_supervisor(proc)
    clean_stale(paths)
    print(f"sandbox up failed after {elapsed:.1f}s: {reason.splitlines()[0]} (see {paths.supervisor_log})")
    return EXIT_FAIL


def _read_line(fd: int, timeout: float) -> str:
    """Read the supervisor's one-line report; '' on EOF or timeout."""
    deadline = time.monotonic() + timeout
    data = b""
    while b"\n" not in data:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return ""
        readable, _, _ = select.select([fd], [], [], remaining)
        if not readable:
            return ""
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        data += chunk
    return data.decode(errors="replace").strip()


def _stop_supervisor(proc: subprocess.Popen[bytes]) -> None:
    """Give a failing supervisor time to clean up; then make sure it is gone."""
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def cmd_down(paths: state.Paths) -> int:
    st = state.read_state(paths)
    runtime = read_runtime(paths)
    pid = (st or {}).get("supervisor_pid") or runtime.get("supervisor_pid")
    if not st and not runtime:
        print("sandbox is already down")
        return EXIT_OK
    if st and pid is not None and state.pid_alive(pid):
        try:
            _control(st, "POST", "/shutdown")
        except (httpx.HTTPError, ValueError):
            state.kill_quietly(pid, signal.SIGTERM)
    elif pid is not None and state.pid_alive(pid):
        state.kill_quietly(pid, signal.SIGTERM)
    deadline = time.monotonic() + 30
    while state.pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    clean_stale(paths)  # kills whatever is left if the supervisor did not finish
    print("sandbox is down")
    return EXIT_OK


def cmd_status(paths: state.Paths) -> int:
    live = _live_status(paths)
    if not live:
        stale = (
            " (stale state files: run `python -m sandbox down`)"
            if (state.read_state(paths) or read_runtime(paths))
            else ""
        )
        print(f"sandbox is down{stale}")
        return EXIT_DOWN
    _print_status(*live)
    return EXIT_OK


def _post(paths: state.Paths, route: str) -> tuple[int, dict[str, Any]] | None:
    live = _live_status(paths)
    if not live:
        print("sandbox is not running: start it with `python -m sandbox up`")
        return None
    try:
        return _control(live[0], "POST", route, timeout=150)
    except (httpx.HTTPError, ValueError) as exc:
        print(f"the supervisor did not answer: {exc}")
        return None


def cmd_fault(paths: state.Paths, name: str) -> int:
    if name not in FAULTS:
        print(f"unknown fault {name!r}; valid faults: {', '.join(FAULTS)}")
        return EXIT_USAGE
    result = _post(paths, f"/fault/{name}")
    if result is None:
        return EXIT_FAIL
    code, body = result
    if code != 200:
        print(f"fault {name} failed: {body.get('error')}")
        return EXIT_FAIL
    note = " (already active)" if body.get("already_active") else (f" in {body.get('seconds', 0):.1f}s")
    print(f"fault {name} on{note}; active: {', '.join(body['faults'])}")
    return EXIT_OK


def cmd_heal(paths: state.Paths) -> int:
    started = time.monotonic()
    result = _post(paths, "/heal")
    if result is None:
        return EXIT_FAIL
    code, body = result
    if code != 200:
        print(f"heal failed: {body.get('error')} (see {paths.supervisor_log})")
        return EXIT_FAIL
    print(f"healed and redeployed in {time.monotonic() - started:.1f}s")
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox",
        description="A local stand-in for an Amani deployment.",
        epilog="faults: " + "; ".join(f"{k}: {v}" for k, v in FAULTS.items()),
    )
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start the sandbox (idempotent) and wait until it is ready")
    up.add_argument(
        "--no-alertmanager",
        action="store_true",
        help="run without Alertmanager: Prometheus alone holds the firing alerts (state.json alerts_source)",
    )
    up.add_argument(
        "--history",
        metavar="SPAN",
        help="backfill SPAN (e.g. 8d) of the service's series into Prometheus before it starts, on the live "
        "series' labels: production-length windows and offset 1d/1w baselines find data (environments/local-prod.toml)",
    )
    up.add_argument(
        "--history-fault",
        action="append",
        default=[],
        metavar="NAME",
        help="write a fault into the history (repeatable): "
        + "; ".join(f"{k}: {v}" for k, v in HISTORY_FAULTS.items()),
    )
    sub.add_parser("down", help="stop everything and remove the runtime data")
    sub.add_parser("status", help="show components, URLs and faults (exit 3 when down)")
    fault = sub.add_parser("fault", help="switch a fault on")
    fault.add_argument("name")
    sub.add_parser("heal", help="clear all faults and redeploy the app")
    args = parser.parse_args(argv)
    paths = state.default_paths()
    if args.command == "up":
        if args.history_fault and not args.history:
            print("--history-fault needs --history (e.g. --history 8d)")
            return EXIT_USAGE
        unknown = [n for n in args.history_fault if n not in HISTORY_FAULTS]
        if unknown:
            print(f"unknown history fault {unknown[0]!r}; valid: {', '.join(HISTORY_FAULTS)}")
            return EXIT_USAGE
        try:
            span = parse_span(args.history) if args.history else None
        except ValueError as exc:
            print(exc)
            return EXIT_USAGE
        return cmd_up(paths, not args.no_alertmanager, span, tuple(args.history_fault))
    if args.command == "down":
        return cmd_down(paths)
    if args.command == "status":
        return cmd_status(paths)
    if args.command == "fault":
        return cmd_fault(paths, args.name)
    return cmd_heal(paths)


if __name__ == "__main__":
    sys.exit(main())
