"""First-15-minutes checks that talk to the API: version, wait, health, readiness, flows."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx

from postdeploy.checks.advice import advice
from postdeploy.config import Expected
from postdeploy.core.errors import TargetError
from postdeploy.core.results import UNREACHABLE, Result, failed, passed, unreachable
from postdeploy.sources.apiclient import ApiClient, Login, error_text, json_body
from postdeploy.sources.runtime import RuntimeStatus

HEALTHY = "healthy"


def _get_json(api: ApiClient, path: str, *, token: bool = False) -> tuple[httpx.Response, Any]:
    resp = api.get(path, token=token)
    return resp, json_body(resp)


def _get_object(api: ApiClient, path: str, check_id: str) -> dict[str, Any] | Result:
    """GET a JSON object with status 200, or the failed Result that says what came instead."""
    url = api.url(path)
    try:
        resp, body = _get_json(api, path)
    except TargetError as exc:
        return unreachable(str(exc), evidence={"url": url}, advice=advice(check_id))
    if resp.status_code != 200 or not isinstance(body, dict):
        return failed(f"GET {url} answered {resp.status_code}: {error_text(resp)}", advice=advice(check_id))
    return body


def wait_ready(api: ApiClient, attempts: int, interval: float) -> Result:
    """Poll the ping endpoint until it answers 200, at most `attempts` times `interval` apart."""
    url = api.url(api.cfg.ping_path)
    bound = f"{attempts} x {interval:g}s"
    last, kind = "no attempt made", ""
    started = time.monotonic()
    for n in range(1, attempts + 1):
        try:
            resp = api.get(api.cfg.ping_path)
            if resp.status_code == 200:
                took = time.monotonic() - started
                return passed(f"GET {url} answered 200 after {n} attempt(s), {took:.1f}s", value=n, threshold=bound)
            last, kind = f"HTTP {resp.status_code}: {error_text(resp)}", ""
        except TargetError as exc:
            last, kind = str(exc), UNREACHABLE  # no answer at all
        if n < attempts:
            time.sleep(interval)
    return failed(
        f"the service never became ready: GET {url} failed {attempts} times over {time.monotonic() - started:.1f}s",
        value=f"{attempts} failed attempts",
        threshold=bound,
        evidence={"last error": last},
        advice=advice("wait.ready"),
        kind=kind,
    )


def check_version(api: ApiClient, expected: Expected) -> Result:
    """The live version and commit equal what was deployed."""
    url = api.url(api.cfg.version_path)
    body = _get_object(api, api.cfg.version_path, "deploy.version")
    if isinstance(body, Result):
        return body
    build: dict[str, Any] = body["build"] if isinstance(body.get("build"), dict) else {}
    live = {"version": str(body.get("version", "")), "commit": str(build.get("commit_sha", ""))}
    want = {"version": expected.version, "commit": expected.commit}
    wrong = [
        f"{k} is {live[k]!r}, expected {v!r}"
        for k, v in want.items()
        if v and not (live[k] == v or (k == "commit" and len(v) >= 7 and live[k].startswith(v)))
    ]
    evidence = {"url": url, "live": f"version {live['version']}, commit {live['commit']}"}
    if wrong:
        return failed(
            "the expected release is not live: " + "; ".join(wrong),
            value=live,
            threshold=want,
            evidence=evidence,
            advice=advice("deploy.version"),
        )
    return passed(
        f"version {live['version']} commit {live['commit'][:12]} is live", value=live, threshold=want, evidence=evidence
    )


def check_running(status: RuntimeStatus | None, error: str, source: str) -> Result:
    """Item 1: the container, pods or process of the release run and do not restart."""
    if status is None:
        return failed(f"cannot ask the runtime: {error}", advice=advice("deploy.running"))
    if not status.running or status.restarting:
        return failed(
            status.detail, value="not running", threshold="running, not restarting", advice=advice("deploy.running")
        )
    return passed(status.detail, value="running", evidence={"deploy time source": source})


def _unready(ready: Result | None, check_id: str) -> Result | None:
    """A failed wait for the service: the check is not judged on its own answer."""
    if ready is None or ready.ok:
        return None
    return failed(f"not judged: the service never became ready ({ready.summary})", advice=advice(check_id))


def check_health(api: ApiClient, ready: Result | None = None) -> Result:
    """HTTP 200 is not enough: the body must say healthy, and so must every entry of `checks`."""
    unready = _unready(ready, "health")
    if unready is not None:
        return unready
    url = api.url(api.cfg.health_path)
    body = _get_object(api, api.cfg.health_path, "health")
    if isinstance(body, Result):
        return body
    checks: dict[str, Any] = body["checks"] if isinstance(body.get("checks"), dict) else {}
    bad = []
    for name, entry in checks.items():
        status = entry.get("status") if isinstance(entry, dict) else entry
        if status != HEALTHY:
            msg = entry.get("message", "") if isinstance(entry, dict) else ""
            bad.append(f"{name}: {status}" + (f" ({msg})" if msg else ""))
    overall = body.get("status")
    evidence = {
        "url": url,
        "checks": ", ".join(f"{k}={(v.get('status') if isinstance(v, dict) else v)}" for k, v in checks.items())
        or "none",
    }
    if overall != HEALTHY or bad or not checks:
        why = "; ".join(bad) or ("the body lists no checks" if not checks else "")
        return failed(
            f"health says {overall!r} (HTTP 200): {why}".rstrip(": "),
            value=overall,
            threshold="status == 'healthy' and every check healthy",
            evidence=evidence,
            advice=advice("health"),
        )
    return passed(f"healthy, {len(checks)} checks healthy", value=overall, evidence=evidence)


def check_readiness(api: ApiClient, ready: Result | None = None) -> Result:
    """`ready` must be true; a false one names the dependency that is not ready."""
    unready = _unready(ready, "readiness")
    if unready is not None:
        return unready
    url = api.url(api.cfg.readiness_path)
    body = _get_object(api, api.cfg.readiness_path, "readiness")
    if isinstance(body, Result):
        return body
    checks: dict[str, Any] = body["checks"] if isinstance(body.get("checks"), dict) else {}
    not_ready = sorted(f"{k}: {v}" for k, v in checks.items() if v != "ready")
    if body.get("ready") is not True:
        return failed(
            f"not ready: {'; '.join(not_ready) or 'ready is ' + repr(body.get('ready'))}",
            value=body.get("ready"),
            threshold="ready is true",
            evidence={"url": url},
            advice=advice("readiness"),
        )
    return passed(f"ready ({len(checks)} dependencies ready)", value=True, evidence={"url": url})


def check_login(login: Login) -> Result:
    """The run's one login with the synthetic user succeeded."""
    if login.ok:
        return passed(f"{login.detail} in {login.elapsed * 1000:.0f} ms", value=login.status)
    if login.status in (401, 403):
        # The service answered and refused these credentials: likely the test user, not the release.
        return failed(
            f"login failed: the credentials of [api.user] were refused ({login.status}); it may be the test user "
            f"(password rotated, user removed or locked), not the service: {login.detail}",
            value=login.status,
            threshold="200 with access_token",
            advice=advice("auth.login.refused"),
        )
    # No HTTP answer at all (refused, reset, timed out): the target could not be asked.
    judge = unreachable if login.status is None else failed
    return judge(
        f"login failed: {login.detail}",
        value=login.status,
        threshold="200 with access_token",
        advice=advice("auth.login"),
    )


def check_list(api: ApiClient, path: str, check_id: str, what: str) -> Result:
    """An authenticated, paginated list endpoint answers 200 with `items`."""
    url = api.url(path)
    try:
        resp, body = _get_json(api, path, token=True)
    except TargetError as exc:
        return unreachable(f"{what}: {exc}", evidence={"url": url}, advice=advice(check_id))
    if resp.status_code != 200:
        return failed(
            f"{what}: GET {url} answered {resp.status_code}: {error_text(resp)}",
            value=resp.status_code,
            threshold=200,
            advice=advice(check_id),
        )
    if not isinstance(body, dict) or not isinstance(body.get("items"), list):
        return failed(f"{what}: GET {url} answered 200 without an 'items' list", advice=advice(check_id))
    return passed(
        f"{what}: 200 with {len(body['items'])} of {body.get('total', '?')} items", value=200, evidence={"url": url}
    )


# A 4xx to the suite's own create request blames the suite's settings, not the service:
# 401/403 (the token) and 429 (throttling) are not about the body or the path.
BODY_REJECTED = frozenset({400, 409, 413, 415, 422})
PATH_REJECTED = frozenset({404, 405})


def write_flow(api: ApiClient) -> Result:
    """Create a record through the API and delete it again (only with --allow-writes)."""
    cfg = api.cfg
    try:
        resp = api.request("POST", cfg.write_create_path, token=True, json=cfg.write_create_body)
        if resp.status_code in BODY_REJECTED | PATH_REJECTED:
            setting = "write_create_body" if resp.status_code in BODY_REJECTED else "write_create_path"
            return failed(
                f"configuration error, not a broken service: the service rejected the suite's own create "
                f"request (POST {api.url(cfg.write_create_path)} answered {resp.status_code}: {error_text(resp)}); "
                f"fix [api] {setting} in the environment file to a {setting.rsplit('_', 1)[1]} this API accepts",
                value=resp.status_code,
                threshold="200 or 201",
                evidence={
                    "setting": f"[api] {setting}",
                    "write_create_path": cfg.write_create_path,
                    "write_create_body": json.dumps(cfg.write_create_body)[:300],
                    "answer": f"{resp.status_code}: {error_text(resp)}",
                },
                advice=(
                    "set [api] write_create_body (and write_create_path) to a create request this API "
                    "accepts, e.g. from its OpenAPI schema; a 4xx to the suite's own body says nothing "
                    "about the release"
                ),
                # A configuration problem: "issues", never "rollback" on this alone.
                severity="major",
            )
        if resp.status_code not in (200, 201):
            return failed(
                f"create: POST {api.url(cfg.write_create_path)} answered {resp.status_code}: {error_text(resp)}",
                advice=advice("business.flow"),
            )
        created = json_body(resp)
        ident = created.get("id") if isinstance(created, dict) else None
        if not ident:
            return failed("create answered without an id: nothing to clean up", advice=advice("business.flow"))
        path = cfg.write_delete_path.format(id=ident)
        resp = api.request("DELETE", path, token=True)
        if resp.status_code not in (200, 202, 204):
            return failed(
                f"cleanup: DELETE {api.url(path)} answered {resp.status_code}; record {ident} is left behind",
                advice=advice("business.flow"),
            )
    except TargetError as exc:
        return unreachable(str(exc), advice=advice("business.flow"))
    return passed(f"created and deleted record {ident}")
