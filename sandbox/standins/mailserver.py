"""A real SMTP server (aiosmtpd) with STARTTLS and AUTH, that accepts no mail.

The integrations check only says EHLO, STARTTLS and AUTH; a MAIL FROM is refused all the
same, so that nothing the suite does can send mail. The smtp_down fault stops it; heal
starts it again on the same port.
"""

from __future__ import annotations

import hmac
import logging
import ssl
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

SMTP_USER = "postdeploy-probe"
# aiosmtpd logs every connection at INFO (and a deprecation WARNING at every AUTH); the
# supervisor log is for the sandbox itself.
logging.getLogger("mail.log").setLevel(logging.ERROR)


class RefuseMail:
    """The handler: MAIL FROM gets 550, so no message is ever accepted."""

    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str, options: list[str]) -> str:
        return "550 5.7.1 the sandbox mail server accepts no mail"


class MailServer:
    """One aiosmtpd controller on 127.0.0.1:port, restartable."""

    def __init__(self, cert: Path, key: Path, password: str) -> None:
        self.cert, self.key, self.password = cert, key, password
        self.port: int | None = None
        self.controller: Controller | None = None

    def _authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = (
            isinstance(data, LoginPassword)
            and data.login.decode() == SMTP_USER
            and hmac.compare_digest(data.password, self.password.encode())
        )
        return AuthResult(success=ok, handled=False)

    def start(self, port: int) -> None:
        """Bind and serve (raising OSError on a clash)."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, self.key)
        controller = Controller(
            RefuseMail(),
            hostname="127.0.0.1",
            port=port,
            server_hostname="127.0.0.1",
            ready_timeout=5.0,
            tls_context=context,
            require_starttls=False,
            authenticator=self._authenticate,
            auth_require_tls=True,
        )
        try:
            controller.start()
        except Exception as exc:  # aiosmtpd wraps a bind failure in its own errors
            raise OSError(f"SMTP server could not start on port {port}: {exc}") from None
        self.controller, self.port = controller, port

    def running(self) -> bool:
        return self.controller is not None

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None
