"""The id of the request (or task) being handled, in a context variable.

An HTTP request takes the ``X-Request-ID`` it came with when that is a sane token (what a reverse proxy
or a client sets), or gets a new one; the answer carries it back; every log line and every Celery task
enqueued while handling it carry it too.
"""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar

HEADER = "X-Request-ID"
_SANE = re.compile(r"^[A-Za-z0-9._:@-]{1,128}$")

request_id: ContextVar[str | None] = ContextVar("tilework_request_id", default=None)


def new_request_id() -> str:
    return uuid.uuid4().hex


def accept_request_id(value: str | None) -> str:
    """The caller's id when it is 1-128 characters of ``[A-Za-z0-9._:@-]``, else a new one."""
    if value and _SANE.match(value):
        return value
    return new_request_id()


def current_request_id() -> str | None:
    return request_id.get()
