"""The sandbox's stand-in for the Amani Escrow Backend, run as its own process.

``python -m sandbox.app --port P --state-dir D --db-port Q [...]``. It serves the real
service's HTTP contract with ThreadingHTTPServer, counts requests the way its Prometheus
middleware does (an unhandled exception lands in errors_total only), and logs JSON lines.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import signal
import sys
import threading
import time
import traceback
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import psycopg
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from sandbox import state
from sandbox.applog import access_line, setup_logging, write_stdout
from sandbox.appmetrics import APP_INFO, ERRORS, HTTP_DURATION, HTTP_IN_PROGRESS, HTTP_REQUESTS, endpoint_label
from sandbox.dbpool import ConnectionPool
from sandbox.faults import FaultFlags
from sandbox.jobs import BackgroundJobs
from sandbox.leaks import Leaks
from sandbox.router import Redirect, resolve
from sandbox.routes import API, REMOVABLE_PATH, AppConfig, Context, driver_message
from sandbox.web import ApiError, Request, Response, error_response

MAX_BODY = 1024 * 1024
# Endpoints the injected 5xx / unhandled faults leave alone, as the brief for them says.
FAULT_EXEMPT = {f"{API}/ping", f"{API}/health", f"{API}/readiness"}


class InjectedFault(RuntimeError):
    """Raised by the unhandled_errors fault; its name shows up as error_type."""


class AppHandler(BaseHTTPRequestHandler):
    """Parses a request, runs the route with the service's middleware semantics, answers."""

    protocol_version = "HTTP/1.1"
    server_version = "uvicorn"
    sys_version = ""
    ctx: Context  # set on the subclass built in serve()

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

    def _read_body(self) -> bytes | None:
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

    def _handle(self) -> None:
        split = urlsplit(self.path)
        path = split.path or "/"
        client = f"{self.client_address[0]}:{self.client_address[1]}"
        incoming_id = (self.headers.get("X-Request-ID") or "").strip()
        request_id = incoming_id[:200] if incoming_id.isprintable() and incoming_id else (str(uuid.uuid4()))
        body = self._read_body()
        if body is None:
            # The rest of the stream cannot be trusted: answer and close the connection.
            self.close_connection = True
            self._send(error_response(413, "HTTP_413", "Request body too large or invalid", path), request_id, client)
            return
        if path == "/metrics":
            metrics = Response(200, generate_latest(), content_type=CONTENT_TYPE_LATEST)
            self._send(metrics, request_id, client)
            return
        request = Request(
            self.command, path, parse_qs(split.query, keep_blank_values=True), self.headers, body, client, request_id
        )
        response = self._observed(request)
        if response.status >= 400 and self.ctx.faults.active("stacktrace_leak"):
            response = _with_debug_trace(response)
        self._send(response, request_id, client)

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
        injectable = request.path.startswith(API) and request.path.rstrip("/") not in FAULT_EXEMPT
        if injectable and ctx.faults.active("unhandled_errors") and random.random() < 0.3:
            raise InjectedFault("injected failure (sandbox fault unhandled_errors)")
        if injectable and ctx.faults.active("errors_5xx") and random.random() < 0.3:
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
            if not self.ctx.faults.active("headers_missing"):
                self.send_header("X-Content-Type-Options", "nosniff")
                self.send_header("X-Frame-Options", "DENY")
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
        access_line(client, self.command, self.path, self.request_version, response.status)


def _with_debug_trace(response: Response) -> Response:
    """The stacktrace_leak fault: what a service left in debug mode puts in its error bodies."""
    try:
        payload = json.loads(response.body)
    except ValueError:
        return response
    payload["debug"] = {
        "traceback": "".join(traceback.format_stack(limit=6)),
        "settings": {"DEBUG": True, "DATABASE_URL": "postgresql://amani:***@127.0.0.1/amani"},
    }
    return Response(response.status, json.dumps(payload).encode(), response.content_type, response.headers)


def init_database(log: logging.Logger, conninfo: dict[str, object], port: int) -> None:
    """The service's startup DB init: connect, run a query, log the outcome."""
    try:
        with psycopg.connect(**dict(conninfo, port=port), connect_timeout=2) as conn:
            conn.execute("SELECT 1")
        log.info("Database initialized successfully")
    except psycopg.Error as exc:
        log.error(f"Failed to initialize database: {driver_message(exc)}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m sandbox.app", description=__doc__)
    parser.add_argument("--port", type=int, required=True)
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
    leaks = Leaks(pool)

    def log_injected_error() -> None:
        log.error("Payment webhook processing failed: FinCra signature verification error (sandbox fault error_logged)")

    faults = FaultFlags(paths.faults_file, paths.faults_ack, on_error_nonce=log_injected_error, on_change=leaks.apply)
    ctx = Context(config, pool, faults, state.read_secret(paths, "jwt_secret"), log)
    handler = type("BoundAppHandler", (AppHandler,), {"ctx": ctx})
    server = ThreadingHTTPServer(("127.0.0.1", args.port), handler)
    faults.start()
    jobs = BackgroundJobs(pool, faults, log)
    jobs.start()

    def on_term(signum: int, frame: object) -> None:
        # shutdown() blocks until serve_forever returns, so it cannot run on this thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    write_stdout(f"INFO:     Uvicorn running on http://127.0.0.1:{args.port} (Press CTRL+C to quit)")
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        log.info(f"Shutting down {state.APP_NAME}...")
        faults.stop()
        jobs.stop()
        server.server_close()
        pool.close()
    return 0


if __name__ == "__main__":
    sys.exit(serve())
