"""The app's logging: JSON lines to the log file and stdout, access lines to stdout only."""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from http import HTTPStatus
from pathlib import Path

LOGGER_NAME = "app.main"
# Record attributes copied into the JSON line when a call passes them through `extra`.
EXTRA_KEYS = ("error_type", "path", "method", "request_id")

_stdout_lock = threading.Lock()


class JsonFormatter(logging.Formatter):
    """Format records as the service does: asctime (UTC), name, levelname, message."""

    converter = time.gmtime  # type: ignore[assignment]  # the stdlib's own documented idiom

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "asctime": self.formatTime(record, "%Y-%m-%d %H:%M:%S"),
            "name": record.name,
            "levelname": record.levelname,
            "message": record.getMessage(),
        }
        for key in EXTRA_KEYS:
            if hasattr(record, key):
                line[key] = getattr(record, key)
        return json.dumps(line)


class _LockedStdout(logging.StreamHandler):  # type: ignore[type-arg]
    """A stdout handler sharing one lock with the access lines, so lines never interleave."""

    def emit(self, record: logging.LogRecord) -> None:
        with _stdout_lock:
            super().emit(record)


def setup_logging(log_file: Path) -> logging.Logger:
    """Configure the app logger once; returns it."""
    formatter = JsonFormatter()
    file_handler = logging.FileHandler(log_file, encoding="utf-8")
    file_handler.setFormatter(formatter)
    stdout_handler = _LockedStdout(sys.stdout)
    stdout_handler.setFormatter(formatter)
    logger = logging.getLogger(LOGGER_NAME)
    logger.handlers[:] = [file_handler, stdout_handler]
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return logger


def write_stdout(text: str) -> None:
    """Write plain text (access lines, tracebacks) to stdout only."""
    with _stdout_lock:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        sys.stdout.flush()


def access_line(client: str, method: str, target: str, version: str, status: int) -> None:
    """Write a uvicorn-style access line."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = ""
    write_stdout(f'INFO:     {client} - "{method} {target} {version}" {status} {phrase}'.rstrip())
