"""A Slack incoming-webhook stand-in: takes messages as Slack does and keeps them to read back.

`POST /services/T.../B.../<token>` with a JSON body answers as Slack documents for
incoming webhooks: 200 with the body `ok`; 400 `invalid_payload` for a body that is not
JSON (or not an object), 400 `no_text` for one without `text` or `blocks`; 403
`invalid_token` for a wrong token; 404 `no_service` for any other path. Bodies are plain
text, as Slack's are. The fault `slack_down` makes every post answer 500.

`GET /_sandbox/messages` is the stand-in's own (not Slack's): the messages it accepted,
so the self-tests can read back what the suite posted.
"""

from __future__ import annotations

import hmac
import json
import secrets
import threading
from http.server import BaseHTTPRequestHandler
from typing import Any

from sandbox.common.localserver import LocalServer

TEAM, BOT = "T0SANDBOX", "B0POSTDEPLOY"


class SlackHandler(BaseHTTPRequestHandler):
    server_version = "slack-standin"
    sys_version = ""
    hook: SlackServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
        pass

    def _answer(self, status: int, body: str, ctype: str = "text/html") -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        if self.path == "/_sandbox/messages":
            self._answer(200, json.dumps(self.hook.messages()), "application/json")
        else:
            self._answer(404, "no_service")

    def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        prefix = f"/services/{TEAM}/{BOT}/"
        if not self.path.startswith(prefix):
            self._answer(404, "no_service")
            return
        if not hmac.compare_digest(self.path[len(prefix) :].encode(), self.hook.token.encode()):
            self._answer(403, "invalid_token")
            return
        if self.hook.down:
            self._answer(500, "rollup_error")
            return
        try:
            payload = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            self._answer(400, "invalid_payload")
            return
        if not isinstance(payload, dict):
            self._answer(400, "invalid_payload")
            return
        if not payload.get("text") and not payload.get("blocks"):
            self._answer(400, "no_text")
            return
        self.hook.keep(payload)
        self._answer(200, "ok")


class SlackServer(LocalServer):
    """The webhook stand-in, run in a thread of the supervisor; its URL's last part is a secret."""

    name = "slack"

    def __init__(self) -> None:
        super().__init__()
        self.token = secrets.token_urlsafe(18)
        self.down = False
        self._lock = threading.Lock()
        self._messages: list[dict[str, Any]] = []

    @property
    def webhook_url(self) -> str:
        return f"{self.url}/services/{TEAM}/{BOT}/{self.token}"

    def start(self, port: int) -> None:
        self.serve(port, type("BoundSlackHandler", (SlackHandler,), {"hook": self}))

    def keep(self, payload: dict[str, Any]) -> None:
        with self._lock:
            self._messages.append(payload)

    def messages(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._messages)
