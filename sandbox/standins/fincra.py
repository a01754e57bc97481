"""A FinCra stand-in: the documented read-only business lookup and its auth errors.

- ``GET /profile/business/me`` with the secret key in the ``api-key`` header answers
  FinCra's envelope ``{"success": true, "message": ..., "data": {"id", "name", "email", ...}}``.
- No key: 401 ``{"message": "No API key found in request"}``; a wrong key: 401
  ``{"message": "Invalid authentication credentials"}`` (FinCra's API Authentication page).
- Anything else: 404 in the NestJS shape FinCra answers with (``message, error, statusCode``).
- The payments_down fault: 503 with an HTML page, as a load balancer in front of a
  provider that is down answers (so the suite meets HTML where JSON was due).
"""

from __future__ import annotations

import hmac
from urllib.parse import urlsplit

from sandbox.common.localserver import JsonHandler, LocalServer

BUSINESS_ID = "62c7b0e5d3f1a2b4c6d8e0f1"
DOWN_PAGE = (
    b"<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n<body>\r\n"
    b"<center><h1>503 Service Temporarily Unavailable</h1></center>\r\n</body>\r\n</html>\r\n"
)


class FincraState:
    """Whether the provider is down (the payments_down fault)."""

    def __init__(self) -> None:
        self.down = False


class FincraHandler(JsonHandler):
    content_type = "application/json; charset=utf-8"
    protocol_version = "HTTP/1.1"
    api_key: str
    provider: FincraState

    def do_GET(self) -> None:
        if self.provider.down:
            self.send_response(503)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(DOWN_PAGE)))
            self.end_headers()
            self.wfile.write(DOWN_PAGE)
            return
        key = self.headers.get("api-key")
        if not key:
            self._reply(401, {"message": "No API key found in request"})
            return
        if not hmac.compare_digest(key.strip().encode(), self.api_key.encode()):
            self._reply(401, {"message": "Invalid authentication credentials"})
            return
        path = urlsplit(self.path).path.rstrip("/")
        if path == "/profile/business/me":
            self._reply(
                200,
                {
                    "success": True,
                    "message": "Business retrieved successfully",
                    "data": {
                        # FinCra's business ID is data._id (its "Get Business Information" page).
                        "_id": BUSINESS_ID,
                        "name": "Amani Escrow Ltd",
                        "email": "payments@amani.test",
                        "type": "parent",
                        "status": "active",
                        "country": "NG",
                        "createdAt": "2025-03-14T09:21:05.000Z",
                    },
                },
            )
        else:
            self._reply(404, {"message": f"Cannot GET {path}", "error": "Not Found", "statusCode": 404})


class FincraServer(LocalServer):
    name = "fincra"

    def __init__(self, api_key: str) -> None:
        super().__init__()
        self.api_key = api_key
        self.provider = FincraState()

    def start(self, port: int) -> None:
        attrs = {"api_key": self.api_key, "provider": self.provider}
        self.serve(port, type("BoundFincraHandler", (FincraHandler,), attrs))
