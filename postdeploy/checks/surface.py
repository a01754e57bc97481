"""API surface: no endpoint of the previous good release vanished from the OpenAPI document."""

from __future__ import annotations

from postdeploy.catalog import advice
from postdeploy.config import Security
from postdeploy.core.errors import TargetError
from postdeploy.core.results import Result, failed, passed, skipped, unreachable
from postdeploy.run.pastruns import History
from postdeploy.sources.apiclient import ApiClient, error_text, json_body

ADVICE = advice("api.surface")
METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def endpoints(document: object) -> list[str]:
    """Return the sorted "METHOD /path" entries of an OpenAPI document."""
    paths = document.get("paths") if isinstance(document, dict) else None
    if not isinstance(paths, dict):
        return []
    return sorted(
        f"{method.upper()} {path}"
        for path, ops in paths.items()
        if isinstance(ops, dict)
        for method in ops
        if method.lower() in METHODS
    )


def check_surface(api: ApiClient, cfg: Security, history: History) -> Result:
    """Fetch the OpenAPI document and compare its endpoints with the previous successful record."""
    url = api.url(cfg.openapi_path)
    try:
        resp = api.get(cfg.openapi_path)
        if resp.status_code == 404:
            return skipped(
                f"the service publishes no OpenAPI document at {url}: set security.openapi_path to compare endpoints"
            )
        if resp.status_code != 200:
            return failed(f"GET {url} answered {resp.status_code}: {error_text(resp)}", advice=ADVICE)
        now = endpoints(json_body(resp))
    except TargetError as exc:
        return unreachable(str(exc), advice=ADVICE)
    if not now:
        return failed(f"GET {url}: the OpenAPI document lists no paths", advice=ADVICE)
    previous = history.last_value("api.surface")
    if previous is None:
        return passed(
            f"{len(now)} endpoints recorded; no earlier successful record to compare with",
            value=now,
            evidence={"url": url, "baseline": "none yet (this record becomes it)"},
        )
    folder, before = previous
    removed_on_purpose = {e.strip() for e in cfg.removed_endpoints}
    vanished = sorted(set(before) - set(now) - removed_on_purpose)
    evidence = {
        "url": url,
        "baseline": str(folder / "record.json"),
        "endpoints": f"{len(before)} before, {len(now)} now",
    }
    if vanished:
        return failed(
            f"{len(vanished)} endpoint(s) vanished since the previous good release: " + ", ".join(vanished),
            value=now,
            threshold="no endpoint removed",
            evidence=evidence,
            advice=ADVICE,
        )
    added = sorted(set(now) - set(before))
    if added:
        evidence["added"] = ", ".join(added)
    return passed(
        f"all {len(before)} endpoints of the previous good release still present",
        value=now,
        threshold="no endpoint removed",
        evidence=evidence,
    )
