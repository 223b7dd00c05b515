"""Logging for every process (API, worker, beat, CLI): JSON lines in production, text elsewhere.

Each record carries ``request_id`` (the request or task being handled, or null). JSON comes from
python-json-logger; the fields are timestamp, level, logger, message, request_id, plus any ``extra``.
"""

from __future__ import annotations

import logging
import sys
from typing import Literal

from pythonjsonlogger.json import JsonFormatter

from marketplace.telemetry.context import current_request_id

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
JSON_FIELDS = "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s"


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` to every record (set as a handler filter, so third-party loggers get it)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = current_request_id()
        return True


def make_handler(fmt: Literal["json", "text"]) -> logging.Handler:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RequestIdFilter())
    if fmt == "json":
        handler.setFormatter(
            JsonFormatter(
                JSON_FIELDS,
                rename_fields={"asctime": "timestamp", "levelname": "level", "name": "logger"},
                timestamp=False,
            )
        )
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    return handler


def configure_logging(fmt: Literal["json", "text"], level: str = "INFO") -> None:
    """Route the root logger (and uvicorn's and Celery's, which propagate) through one handler."""
    root = logging.getLogger()
    for existing in list(root.handlers):
        if getattr(existing, "_tilework", False):
            root.removeHandler(existing)
    handler = make_handler(fmt)
    handler._tilework = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "celery"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    # one line per outgoing HTTP call (chain node, Stripe), or per readiness probe of the schema
    # revision, is noise next to our own access lines
    for name in ("httpx", "httpcore", "urllib3", "botocore", "web3", "alembic.runtime.migration"):
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
