"""The sandbox speaks the reference service's contract (its own /openapi.json, TARGET.md).

Against the shared session sandbox (`box`), in a few seconds: the document it serves is the
reference document (paths, methods, parameters, schemas), every operation of it is routed
(no 404/405), and every answer the suite's checks read validates with jsonschema against the
schema the reference document gives that answer. Error bodies are checked against the
envelope TARGET.md describes (`selftests/contracts/amani-error-envelope.json`): the reference
document describes a 422 as FastAPI's `HTTPValidationError` (`{"detail": [...]}`), which
the real service's exception handlers never send; the envelope fits it only because that
schema requires nothing, so both are checked.
"""

from __future__ import annotations

import hashlib
import json
import re
import ssl
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from contracts import Operation, load, operation, schema_problems
from postdeploy.config import Api
from sandbox.app import contract
from sandbox.common import auth
from sandboxrun import ROOT, Sandbox

REFERENCE = Path("/work/shared/amani-openapi.json")
# sha256 of the reference document the sandbox's copy was taken from (2025 fetch, 51 paths).
REFERENCE_SHA256 = "248b1f35d4425b0c62f767f617cc21465587b423360d276c9c0afc582eb8be91"
ENVELOPE = load("amani-error-envelope.json")
ZERO = "00000000-0000-0000-0000-000000000000"


def _client(box: Sandbox) -> httpx.Client:
    state = box.state()
    return httpx.Client(
        base_url=state["api_url"], timeout=10, verify=ssl.create_default_context(cafile=state["ca_file"])
    )


def _secret(box: Sandbox, name: str) -> str:
    return (box.folder / "secrets" / name).read_text().strip()


@pytest.fixture(scope="module")
def real() -> dict[str, Any]:
    return contract.document()


@pytest.fixture(scope="module")
def token(box: Sandbox) -> str:
    with _client(box) as api:
        answer = api.post(
            "/api/v1/auth/login",
            json={"email": box.state()["test_user_email"], "password": _secret(box, "test_user_password")},
        )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


def _fits(doc: dict[str, Any], method: str, url: str, answer: httpx.Response) -> Operation:
    """Assert an answer validates against the document's schema for its operation and status."""
    op = operation(doc, method, url)
    body = answer.json()
    problems = op.check_response(answer.status_code, body)
    assert not problems, f"{op.name} {answer.status_code} breaks the reference schema: {problems}\n{body}"
    return op


def _envelope(answer: httpx.Response, status: int, code: str | None = None) -> None:
    assert answer.status_code == status, answer.text
    body = answer.json()
    problems = schema_problems(ENVELOPE, ENVELOPE["schema"], body)
    assert not problems, f"error body breaks the envelope of TARGET.md: {problems}\n{body}"
    if code:
        assert body["error"]["code"] == code, body


def test_the_sandboxs_contract_is_the_reference_document() -> None:
    copy = contract.DOCUMENT.read_bytes()
    assert hashlib.sha256(copy).hexdigest() == REFERENCE_SHA256, "sandbox/contract/amani-openapi.json was edited"
    if REFERENCE.exists():
        assert REFERENCE.read_bytes() == copy, f"{REFERENCE} changed: copy it to {contract.DOCUMENT} and note why"
    assert (ROOT / "sandbox" / "contract" / "README.md").exists()


def test_served_openapi_equals_the_reference(box: Sandbox, real: dict[str, Any]) -> None:
    with _client(box) as api:
        served = api.get("/openapi.json").json()

    def ops(doc: dict[str, Any]) -> set[tuple[str, str]]:
        return {(m.upper(), p) for p, item in doc["paths"].items() for m in item}

    assert ops(served) == ops(real), {"missing": ops(real) - ops(served), "extra": ops(served) - ops(real)}
    assert len(real["paths"]) == 51 and len(ops(real)) == 57
    assert ("POST", "/api/v1/auth/register") not in ops(served) and ("GET", "/metrics") in ops(served)
    # Parameters, bodies, answers and schemas too: the whole document, as served.
    assert served == real


def test_no_path_of_the_reference_answers_404_or_405(box: Sandbox, real: dict[str, Any]) -> None:
    """Without credentials and with an empty body, as the real service answers: the Bearer
    check first (403 with the envelope), else body validation (422), else the endpoint."""
    with _client(box) as api:
        for path, item in real["paths"].items():
            concrete = re.sub(r"\{\w+\}", ZERO, path)
            for method, spec in item.items():
                kwargs: dict[str, Any] = {"json": {}} if "requestBody" in spec else {}
                answer = api.request(method.upper(), concrete, **kwargs)
                assert answer.status_code not in (404, 405), (method, path, answer.text)
                if spec.get("security"):
                    _envelope(answer, 403, "HTTP_403")
                elif "requestBody" in spec:
                    _envelope(answer, 422, "VALIDATION_ERROR")
                else:
                    assert answer.status_code == 200, (method, path, answer.text)
        # A bad token is a 401, a wrong body behind a good token a 422: on a stub as on login.
        bad = api.get("/api/v1/wallet/list", headers={"Authorization": "Bearer not.a.token"})
        _envelope(bad, 401, "HTTP_401")


def test_unimplemented_operations_validate_as_the_contract_says(box: Sandbox, token: str) -> None:
    auth_header = {"Authorization": f"Bearer {token}"}
    with _client(box) as api:
        short_otp = api.post("/api/v1/bot/withdrawal/pin/set", json={"pin": 1}, headers=auth_header)
        _envelope(short_otp, 422, "VALIDATION_ERROR")
        page = api.get("/api/v1/wallet/list", params={"page_size": 500}, headers=auth_header)
        _envelope(page, 422, "VALIDATION_ERROR")
        assert "query.page_size" in page.json()["error"]["message"]
        served = api.get("/api/v1/wallet/list", headers=auth_header)
        _envelope(served, 501, "NOT_IMPLEMENTED")


def test_answers_the_suite_reads_fit_the_reference_schemas(box: Sandbox, real: dict[str, Any], token: str) -> None:
    bearer = {"Authorization": f"Bearer {token}"}
    with _client(box) as api:
        for url in ("/api/v1/", "/api/v1/ping", "/api/v1/version", "/api/v1/health", "/api/v1/readiness"):
            answer = api.get(url)
            assert answer.status_code == 200, answer.text
            _fits(real, "GET", url, answer)
        login = api.post(
            "/api/v1/auth/login",
            json={"email": box.state()["test_user_email"], "password": _secret(box, "test_user_password")},
        )
        _fits(real, "POST", "/api/v1/auth/login", login)
        for url in ("/api/v1/projects", "/api/v1/escrow/transactions", "/api/v1/projects?page=1&page_size=5"):
            answer = api.get(url, headers=bearer)
            assert answer.status_code == 200 and answer.json()["items"], answer.text
            op = _fits(real, "GET", url, answer)
            assert not op.check_request(url), op.check_request(url)
        project = api.get("/api/v1/projects", headers=bearer).json()["items"][0]
        one = api.get(f"/api/v1/projects/{project['id']}", headers=bearer)
        _fits(real, "GET", f"/api/v1/projects/{project['id']}", one)
        me = api.get("/api/v1/auth/me", headers=bearer)
        _fits(real, "GET", "/api/v1/auth/me", me)
        # The suite's opt-in write check: its default body is the contract's ProjectCreate.
        body = Api(base_url=box.state()["api_url"]).write_create_body
        op = operation(real, "POST", "/api/v1/projects")
        assert not op.check_request("/api/v1/projects", body), op.check_request("/api/v1/projects", body)
        created = api.post("/api/v1/projects", json=body, headers=bearer)
        assert created.status_code == 201, created.text
        _fits(real, "POST", "/api/v1/projects", created)
        gone = api.delete(f"/api/v1/projects/{created.json()['id']}", headers=bearer)
        assert gone.status_code == 204, gone.text
        # Error bodies the checks read: the envelope, and for 422 the document's own schema too.
        wrong = api.post("/api/v1/auth/login", json={"email": "nobody@amani.test", "password": "x"})
        _envelope(wrong, 401, "HTTP_401")
        # UserLogin.password has no minLength: an empty one is a wrong password, not invalid input.
        _envelope(api.post("/api/v1/auth/login", json={"email": "nobody@amani.test", "password": ""}), 401, "HTTP_401")
        invalid = api.post("/api/v1/auth/login", json={"email": 5})
        _envelope(invalid, 422, "VALIDATION_ERROR")
        _fits(real, "POST", "/api/v1/auth/login", invalid)
        _envelope(api.get("/api/v1/projects"), 403, "HTTP_403")
        _envelope(api.get("/api/v1/projects", headers={"Authorization": "Bearer x.y.z"}), 401, "HTTP_401")
        _envelope(api.get("/api/v1/projects", params={"page": 0}, headers=bearer), 422, "VALIDATION_ERROR")
        _envelope(api.get("/no/such/page"), 404, "HTTP_404")


def test_signup_is_the_real_two_steps(box: Sandbox, real: dict[str, Any]) -> None:
    email = f"contract-{uuid.uuid4().hex[:10]}@signup.amani.test"
    password = "contract-test-password"
    with _client(box) as api:
        assert api.post("/api/v1/auth/register", json={"email": email, "password": password}).status_code == 404
        body = {"email": email, "password": password, "full_name": "Contract Test"}
        assert not operation(real, "POST", "/api/v1/auth/signup").check_request("/api/v1/auth/signup", body)
        signup = api.post("/api/v1/auth/signup", json=body)
        assert signup.status_code == 201, signup.text
        _fits(real, "POST", "/api/v1/auth/signup", signup)
        assert signup.json()["email"] == email
        _envelope(api.post("/api/v1/auth/signup", json=body), 400, "HTTP_400")
        _envelope(api.post("/api/v1/auth/signup", json={"email": email, "password": "short"}), 422)
        # Not verified yet: login is refused with 403, as the reference service does.
        _envelope(api.post("/api/v1/auth/login", json={"email": email, "password": password}), 403, "HTTP_403")
        _envelope(api.post("/api/v1/auth/verify-otp", json={"email": email, "otp": "000000x"}), 422)
        otp = auth.signup_otp(_secret(box, "jwt_secret"), email)
        wrong = "1" * 6 if otp != "1" * 6 else "2" * 6
        _envelope(api.post("/api/v1/auth/verify-otp", json={"email": email, "otp": wrong}), 400, "HTTP_400")
        verified = api.post("/api/v1/auth/verify-otp", json={"email": email, "otp": otp})
        assert verified.status_code == 200, verified.text
        _fits(real, "POST", "/api/v1/auth/verify-otp", verified)
        login = api.post("/api/v1/auth/login", json={"email": email, "password": password})
        assert login.status_code == 200 and login.json()["user"]["is_verified"] is True, login.text


def test_the_envelope_schema_notes_its_source() -> None:
    assert "TARGET.md" in json.dumps(ENVELOPE["x-source"])
