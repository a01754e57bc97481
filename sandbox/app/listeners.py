"""The app's two listeners on 127.0.0.1: HTTPS for the API and plain HTTP beside it.

The plain port is what production's port 80 is: it redirects to HTTPS, except for
``/metrics`` (Prometheus scrapes plain HTTP) and requests a TLS-terminating proxy forwarded
(the handler decides that, see sandbox/security.py). The HTTPS server runs the handshake
on the connection's own thread rather than in accept(), so a client stalling mid-handshake
cannot hold up the others, and it reads its SSLContext at every handshake, so switching the
certificate (the cert_expiring fault) applies to the next connection while open
keep-alive connections keep the old one.
"""

from __future__ import annotations

import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from sandbox.common import state

HANDSHAKE_TIMEOUT = 10.0


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    """A server-side context for one certificate chain, TLS 1.2 and later."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols(["http/1.1"])
    context.load_cert_chain(cert, key)
    return context


class TLSServer(ThreadingHTTPServer):
    """ThreadingHTTPServer speaking TLS, with a certificate that can be switched at run time."""

    def __init__(
        self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], context: ssl.SSLContext
    ) -> None:
        super().__init__(address, handler)
        self.context = context

    def finish_request(self, request: socket.socket, client_address: tuple[str, int]) -> None:  # type: ignore[override]
        request.settimeout(HANDSHAKE_TIMEOUT)
        # Like uvicorn: without TCP_NODELAY a response written in pieces waits for the
        # client's delayed ACK, ~40 ms a request, which no real deployment pays.
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            tls = self.context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            # A client that rejects the certificate, or never speaks TLS: nothing to answer.
            return
        tls.settimeout(None)
        try:
            self.RequestHandlerClass(tls, client_address, self)  # type: ignore[arg-type]
        finally:
            # wrap_socket took the descriptor over: the server's own shutdown_request sees
            # a detached socket, so the TLS one is closed here.
            try:
                tls.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            tls.close()


class Listeners:
    """Both servers of one app process: HTTPS served on the calling thread, HTTP on its own."""

    def __init__(
        self,
        paths: state.Paths,
        https_port: int,
        http_port: int,
        https_handler: type[BaseHTTPRequestHandler],
        http_handler: type[BaseHTTPRequestHandler],
    ) -> None:
        self.paths = paths
        self.expiring = False
        self.https = TLSServer(("127.0.0.1", https_port), https_handler, self._context())
        self.http = ThreadingHTTPServer(("127.0.0.1", http_port), http_handler)

    def _context(self) -> ssl.SSLContext:
        cert = self.paths.expiring_cert if self.expiring else self.paths.server_cert
        return server_context(cert, self.paths.server_key)

    def apply(self, active: frozenset[str]) -> None:
        """Follow the cert_expiring fault (called by the fault watcher before it acks)."""
        expiring = "cert_expiring" in active
        if expiring != self.expiring:
            self.expiring = expiring
            # One attribute assignment: a handshake sees either the old context or the new one.
            self.https.context = self._context()

    def serve_forever(self) -> None:
        """Serve plain HTTP in a daemon thread and HTTPS here, until shutdown()."""
        threading.Thread(target=self.http.serve_forever, args=(0.2,), name="http", daemon=True).start()
        self.https.serve_forever(poll_interval=0.2)

    def shutdown(self) -> None:
        """Stop both loops (blocks until they return: never call it from the serving thread)."""
        self.http.shutdown()
        self.https.shutdown()

    def close(self) -> None:
        self.http.server_close()
        self.https.server_close()
