"""Pure ASGI middleware, outermost: a request id for every HTTP request, one access-log line, and the
request metrics by route template.

The id is the caller's ``X-Request-ID`` when it is sane, or a new one; it is set in a context variable
for the handlers (logs, and the Celery tasks they enqueue carry it) and sent back in the answer's
``X-Request-ID`` header. The route label is the matched route's template (``/api/jobs/{job_id}``), so
the label set stays small whatever paths clients send; anything unmatched is ``unmatched``.
"""

from __future__ import annotations

import logging
import time

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from marketplace.telemetry.context import HEADER, accept_request_id, request_id
from marketplace.telemetry.metrics import HTTP_LATENCY, HTTP_REQUESTS

access_log = logging.getLogger("tilework.access")


def route_template(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"


class Observe:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = accept_request_id(Headers(scope=scope).get(HEADER))
        token = request_id.set(rid)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                MutableHeaders(scope=message)[HEADER] = rid
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            method, route = scope["method"], route_template(scope)
            HTTP_REQUESTS.labels(method, route, str(status)).inc()
            HTTP_LATENCY.labels(method, route).observe(elapsed)
            access_log.info(
                "%s %s %s %.1f ms",
                method,
                route,
                status,
                elapsed * 1000,
                extra={
                    "method": method,
                    "route": route,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 1),
                },
            )
            request_id.reset(token)
