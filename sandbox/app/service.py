"""The sandbox's stand-in for the Amani Escrow Backend, run as its own process.

``python -m sandbox.app --port P --http-port H --state-dir D --db-port Q [...]``. It serves
the real service's HTTP contract over HTTPS on P (ThreadingHTTPServer; certificates from
``D/tls``), redirects plain HTTP on H to it as production does, counts requests the way its
Prometheus middleware does (an unhandled exception lands in errors_total only), and logs
JSON lines.
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import signal
import socket
import struct
import sys
import threading
import time
import traceback
import uuid
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import psycopg
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from sandbox.app.applog import access_line, setup_logging, write_stdout
from sandbox.app.appmetrics import APP_INFO, ERRORS, HTTP_DURATION, HTTP_IN_PROGRESS, HTTP_REQUESTS, endpoint_label
from sandbox.app.burn import CpuBurn
from sandbox.app.dbpool import ConnectionPool
from sandbox.app.faultfile import FaultFlags
from sandbox.app.jobs import BackgroundJobs
from sandbox.app.leaks import Leaks
from sandbox.app.limiter import EXEMPT, FixedWindow, throttled_answer
from sandbox.app.listeners import Listeners
from sandbox.app.observability import ObservabilityFaults
from sandbox.app.router import Redirect, resolve
from sandbox.app.routes import API, REMOVABLE_PATH, AppConfig, Context, driver_message
from sandbox.app.security import (
    cors_headers,
    forwarded_https,
    https_redirect,
    preflight,
    security_headers,
    with_debug_trace,
)
from sandbox.app.web import ApiError, Request, Response, error_response
from sandbox.common import state

MAX_BODY = 1024 * 1024
# Endpoints the injected 5xx / unhandled faults leave alone, as the brief for them says.
FAULT_EXEMPT = {f"{API}/ping", f"{API}/health", f"{API}/readiness"}
# errors_5xx and its lower-rate variants: the share of all requests answering 500 under the
# sandbox's synthetic traffic, as the error_rate check counts them. Its probes (ping, health,
# readiness: PROBE_SHARE of it, sandbox/standins/traffic.py) are spared and answer 200, so
# the other requests fail a little more often: rate / (1 - PROBE_SHARE) of them.
RATES_5XX = {"errors_5xx": 0.3, "errors_5xx_10": 0.1, "errors_5xx_3": 0.03}
PROBE_SHARE = 0.0625


def _share_5xx(faults: Any) -> float:
    rate = max((rate for name, rate in RATES_5XX.items() if faults.active(name)), default=0.0)
    return rate / (1 - PROBE_SHARE)


class InjectedFault(RuntimeError):
    """Raised by the unhandled_errors fault; its name shows up as error_type."""


class AppHandler(BaseHTTPRequestHandler):
    """Parses a request, runs the route with the service's middleware semantics, answers."""

    protocol_version = "HTTP/1.1"
    server_version = "uvicorn"
    sys_version = ""
    # Set on the two subclasses built in serve(): one per listener.
    ctx: Context
    secure: bool  # the HTTPS listener
    https_port: int
    # Whether the client's side of this request is HTTPS (directly or through a proxy).
    secure_request = False
    # The rate limiter of the throttled_* faults (one for every connection) and, per
    # connection, whether its next request is reset (set after a throttled answer).
    limiter = FixedWindow()
    reset_next = False

    # Every method goes through the same path, so the contract's 405s come from routing.
    def do_GET(self) -> None:
        self._handle()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    def version_string(self) -> str:
        return self.server_version

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass  # the access line is written once the response is known

    def log_message(self, format: str, *args: object) -> None:
        write_stdout("INFO:     " + (format % args))

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """What the HTTP parser rejects (bad request line, huge headers, unknown method), in the
        service's error envelope rather than http.server's HTML page."""
        self.close_connection = True
        self.secure_request = self.secure
        path = urlsplit(getattr(self, "path", "") or "").path or "/"
        try:
            phrase = HTTPStatus(code).phrase
        except ValueError:
            phrase = "Error"
        client = f"{self.client_address[0]}:{self.client_address[1]}"
        self._send(error_response(code, f"HTTP_{code}", phrase, path), str(uuid.uuid4()), client)

    def _read_body(self) -> bytes | None:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return self._read_chunked()
        raw = self.headers.get("Content-Length")
        if raw is None:
            return b""
        try:
            length = int(raw)
        except ValueError:
            return None
        if length < 0 or length > MAX_BODY:
            return None
        return self.rfile.read(length)

    def _read_chunked(self) -> bytes | None:
        """A chunked body; left unread, its bytes would be parsed as the next request."""
        body = b""
        while True:
            try:
                size = int(self.rfile.readline(1024).split(b";")[0].strip(), 16)
            except ValueError:
                return None
            if size < 0 or len(body) + size > MAX_BODY:
                return None
            if size == 0:
                break
            body += self.rfile.read(size)
            self.rfile.readline(1024)  # the CRLF after the chunk
        while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
            pass  # trailers
        return body

    def _handle(self) -> None:
        split = urlsplit(self.path)
        path = split.path or "/"
        client = f"{self.client_address[0]}:{self.client_address[1]}"
        incoming_id = (self.headers.get("X-Request-ID") or "").strip()
        request_id = incoming_id[:200] if incoming_id.isprintable() and incoming_id else (str(uuid.uuid4()))
        faults = self.ctx.faults
        self.secure_request = self.secure or forwarded_https(self.headers)
        body = self._read_body()
        if body is None:
            # The rest of the stream cannot be trusted: answer and close the connection.
            self.close_connection = True
            self._send(error_response(413, "HTTP_413", "Request body too large or invalid", path), request_id, client)
            return
        if self._throttled(path, request_id, client):
            return
        if path == "/metrics":
            metrics = Response(200, generate_latest(), content_type=CONTENT_TYPE_LATEST)
            self._send(metrics, request_id, client)
            return
        if not self.secure_request and not faults.active("redirect_missing"):
            # Before the metrics middleware, like a redirect in front of the app: not counted.
            self._send(https_redirect(self.https_port, self.path), request_id, client)
            return
        wildcard = faults.active("cors_wildcard")
        response = preflight(self.command, self.headers, wildcard)
        if response is None:
            request = Request(
                self.command,
                path,
                parse_qs(split.query, keep_blank_values=True),
                self.headers,
                body,
                client,
                request_id,
            )
            response = self._observed(request)
            if response.status >= 400 and faults.active("stacktrace_leak"):
                response = with_debug_trace(response)
            response.headers.update(cors_headers(self.headers.get("Origin"), wildcard))
        self._send(response, request_id, client)

    def _throttled(self, path: str, request_id: str, client: str) -> bool:
        """The throttled_* faults: the limiter in front of the metrics middleware."""
        faults = self.ctx.faults
        kind = next((k for k in ("throttled_500", "throttled_429") if faults.active(k)), None)
        if kind is None:
            self.reset_next = False
            return False
        if self.reset_next:
            # A kept-alive connection after a burst: reset (RST), no answer.
            self.reset_next = False
            self.close_connection = True
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            fd = self.connection.detach()
            os.close(fd)
            return True
        redirected = not self.secure_request and not faults.active("redirect_missing") and path != "/metrics"
        if path.rstrip("/") in EXEMPT or redirected or self.limiter.allow():
            return False
        if kind == "throttled_500":
            # The limiter's HTTPException(429) reaches the generic handler: logged, answered 500.
            self.ctx.log.error(
                "HTTPException: 429: Rate limit exceeded",
                extra={"error_type": "HTTPException", "path": path, "method": self.command, "request_id": request_id},
            )
            write_stdout(
                "ERROR:    Exception in ASGI application\nTraceback (most recent call last):\n"
                '  File "slowapi/extension.py", line 386, in _check_request_limit\n'
                "fastapi.exceptions.HTTPException: 429: Rate limit exceeded"
            )
        self._send(throttled_answer(kind, path), request_id, client)
        self.reset_next = not self.close_connection
        return True

    def _observed(self, request: Request) -> Response:
        """The service's metrics middleware around the route."""
        ctx = self.ctx
        endpoint = endpoint_label(request.path)
        in_progress = HTTP_IN_PROGRESS.labels(request.method, endpoint)
        in_progress.inc()
        started = time.perf_counter()
        try:
            response = self._route(request)
        except Exception as exc:
            # Unhandled: the middleware counts it in errors_total and re-raises, so it never
            # reaches http_requests_total; the exception handler then answers 500.
            ERRORS.labels(type(exc).__name__, endpoint).inc()
            ctx.log.error(
                "Unhandled exception",
                extra={
                    "error_type": type(exc).__name__,
                    "path": request.path,
                    "method": request.method,
                    "request_id": request.request_id,
                },
            )
            write_stdout("ERROR:    Exception in ASGI application\n" + traceback.format_exc())
            return error_response(500, "INTERNAL_ERROR", "An unexpected error occurred", request.path)
        else:
            HTTP_REQUESTS.labels(request.method, endpoint, str(response.status)).inc()
            HTTP_DURATION.labels(request.method, endpoint).observe(time.perf_counter() - started)
            return response
        finally:
            in_progress.dec()

    def _route(self, request: Request) -> Response:
        ctx = self.ctx
        if ctx.faults.active("slow"):
            time.sleep(0.6)
        if ctx.faults.active("latency_regression"):
            time.sleep(0.1)
        if ctx.faults.active("endpoint_5xx") and request.path.rstrip("/") == API:
            return error_response(500, "INTERNAL_ERROR", "Internal server error", request.path)
        if ctx.faults.active("no_registrations") and request.path.rstrip("/") == f"{API}/auth/signup":
            return error_response(403, "HTTP_403", "Registrations are closed", request.path)
        injectable = request.path.startswith(API) and request.path.rstrip("/") not in FAULT_EXEMPT
        if injectable and ctx.faults.active("unhandled_errors") and random.random() < 0.3:
            raise InjectedFault("injected failure (sandbox fault unhandled_errors)")
        if injectable and random.random() < _share_5xx(ctx.faults):
            return error_response(500, "INTERNAL_ERROR", "Internal server error", request.path)
        if ctx.faults.active("endpoint_removed") and request.path.rstrip("/") == REMOVABLE_PATH:
            return error_response(404, "HTTP_404", "Not Found", request.path)
        try:
            handler, params = resolve(request.method, request.path)
            request.params = params
            return handler(ctx, request)
        except ApiError as exc:
            return exc.response(request.path)
        except Redirect as redirect:
            query = urlsplit(self.path).query
            location = redirect.location + (f"?{query}" if query else "")
            return Response(307, b"", content_type="", headers={"Location": location})

    def _send(self, response: Response, request_id: str, client: str) -> None:
        try:
            self.send_response(response.status)
            if response.content_type:
                self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(response.body)))
            self.send_header("x-request-id", request_id)
            for name, value in security_headers(self.secure_request, self.ctx.faults.active("headers_missing")).items():
                self.send_header(name, value)
            for name, value in response.headers.items():
                self.send_header(name, value)
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD" and response.body:
                self.wfile.write(response.body)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
            return
        access_line(client, self.command or "-", getattr(self, "path", ""), self.request_version, response.status)


def init_database(log: logging.Logger, conninfo: dict[str, Any], port: int) -> None:
    """The service's startup DB init: connect, run a query, log the outcome."""
    try:
        with psycopg.connect(**dict(conninfo, port=port), connect_timeout=2) as conn:
            conn.execute("SELECT 1")
        log.info("Database initialized successfully")
    except psycopg.Error as exc:
        log.error(f"Failed to initialize database: {driver_message(exc)}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m sandbox.app", description=__doc__)
    parser.add_argument("--port", type=int, required=True, help="the HTTPS port (the API)")
    parser.add_argument("--http-port", type=int, required=True, help="the plain HTTP port (redirects, /metrics)")
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--db-host", default=state.DB_HOST)
    parser.add_argument("--db-port", type=int, required=True)
    parser.add_argument(
        "--init-db-port", type=int, default=None, help="port used only by the startup DB init (the startup_error fault)"
    )
    parser.add_argument("--version", default=state.CURRENT_RELEASE.version)
    parser.add_argument("--commit-sha", default=state.CURRENT_RELEASE.commit_sha)
    parser.add_argument("--build-time", default=state.CURRENT_RELEASE.build_time)
    parser.add_argument("--build-number", default=state.CURRENT_RELEASE.build_number)
    parser.add_argument("--build-branch", default=state.CURRENT_RELEASE.build_branch)
    parser.add_argument("--environment", default=state.ENVIRONMENT)
    return parser.parse_args(argv)


class FaultEffects:
    """What a change of the active faults does inside the running process."""

    def __init__(self, pool: ConnectionPool, log: logging.Logger, root: Path) -> None:
        self.leaks = Leaks(pool)
        self.observability = ObservabilityFaults(log, root)
        self.burn = CpuBurn()
        self.listeners: Listeners | None = None  # set once they exist

    def apply(self, active: frozenset[str]) -> None:
        self.leaks.apply(active)
        self.observability.apply(active)
        self.burn.apply(active)
        if self.listeners is not None:
            self.listeners.apply(active)


def open_pool(args: argparse.Namespace, paths: state.Paths, log: logging.Logger) -> ConnectionPool:
    """Initialise the database like the service does, then fill the pool in the background."""
    conninfo: dict[str, object] = {
        "host": args.db_host,
        "port": args.db_port,
        "dbname": state.DB_NAME,
        "user": state.DB_APP_USER,
        "password": state.read_secret(paths, "app_db_password"),
    }
    init_database(log, conninfo, args.init_db_port or args.db_port)
    pool = ConnectionPool(conninfo)
    threading.Thread(target=pool.fill, name="pool-fill", daemon=True).start()
    return pool


def open_listeners(args: argparse.Namespace, paths: state.Paths, ctx: Context) -> Listeners:
    """The HTTPS listener and the plain-HTTP one (redirects and /metrics), both serving AppHandler."""
    bound = {"ctx": ctx, "https_port": args.port}
    return Listeners(
        paths,
        args.port,
        args.http_port,
        type("HttpsAppHandler", (AppHandler,), {**bound, "secure": True}),
        type("HttpAppHandler", (AppHandler,), {**bound, "secure": False}),
    )


def stop_on_signals(listeners: Listeners) -> None:
    def on_term(signum: int, frame: object) -> None:
        # shutdown() blocks until serve_forever returns, so it cannot run on this thread.
        threading.Thread(target=listeners.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)


def serve(argv: list[str] | None = None) -> int:
    """Start up like the service (log, DB init, pool), then serve until SIGTERM."""
    args = parse_args(argv)
    paths = state.Paths(args.state_dir.resolve())
    paths.app_pidfile.write_text(f"{os.getpid()}\n")
    log = setup_logging(paths.app_log)
    release = state.Release(args.version, args.commit_sha, args.build_time, args.build_number, args.build_branch)
    config = AppConfig(release, args.environment)
    APP_INFO.info({"app_name": state.APP_NAME, "environment": config.environment, "version": release.version})
    log.info(f"Starting {state.APP_NAME}...")
    pool = open_pool(args, paths, log)
    effects = FaultEffects(pool, log, paths.root)

    def log_injected_error() -> None:
        log.error("Payment webhook processing failed: FinCra signature verification error (sandbox fault error_logged)")

    faults = FaultFlags(paths.faults_file, paths.faults_ack, on_error_nonce=log_injected_error, on_change=effects.apply)
    ctx = Context(config, pool, faults, state.read_secret(paths, "jwt_secret"), log)
    listeners = effects.listeners = open_listeners(args, paths, ctx)
    faults.start()
    jobs = BackgroundJobs(pool, faults, log)
    jobs.start()
    stop_on_signals(listeners)
    write_stdout(f"INFO:     Uvicorn running on https://127.0.0.1:{args.port} (Press CTRL+C to quit)")
    write_stdout(f"INFO:     Plain HTTP on http://127.0.0.1:{args.http_port} (redirects to HTTPS; /metrics)")
    try:
        listeners.serve_forever()
    finally:
        log.info(f"Shutting down {state.APP_NAME}...")
        faults.stop()
        jobs.stop()
        listeners.close()
        pool.close()
    return 0


if __name__ == "__main__":
    sys.exit(serve())
