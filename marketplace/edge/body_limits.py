"""Cap request bodies before anything parses them.

A JSON (or form) body larger than its cap is answered 413 as soon as the cap is passed — from
``Content-Length`` when it is given, while the body streams otherwise — and a JSON body that nests
deeper than ``max_depth`` is answered 400 before the parser sees it. Multipart uploads are not touched:
they stream to disk and have their own per-file and per-image limits (``jobs/uploads.py``).
"""

from __future__ import annotations

import re
from itertools import accumulate

import numpy as np
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from marketplace.errors import JsonTooDeep, PayloadTooLarge, TileworkError

_STRUCTURAL = b'[]{}"\\'
_DROP = bytes(b for b in range(256) if b not in _STRUCTURAL)
#: A JSON string once everything but quotes, backslashes and brackets is deleted (unrolled loop).
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_OPEN = (ord("["), ord("{"))
_CLOSE = (ord("]"), ord("}"))
#: Up to this many brackets a Python loop is cheaper than NumPy's fixed cost (a worker's submission).
_FEW = 512
_STEP = {**dict.fromkeys(_OPEN, 1), **dict.fromkeys(_CLOSE, -1)}


def json_depth(body: bytes) -> int:
    """The deepest array/object nesting in ``body``, brackets inside strings not counted.

    Linear and in C (``bytes.translate``, one regex pass, a NumPy prefix sum; a few hundred brackets
    are summed in Python, which costs less than NumPy's set-up). On malformed input it
    may over-count (an unterminated string's brackets count), never under-count what a parser would
    descend into before failing.
    """
    reduced = body.translate(None, _DROP)
    if reduced.count(b"[") + reduced.count(b"{") == 0:
        return 0
    brackets = _STRING.sub(b"", reduced)
    if len(brackets) <= _FEW:
        return max(accumulate((_STEP.get(b, 0) for b in brackets), initial=0))
    skeleton = np.frombuffer(brackets, dtype=np.uint8)
    step = np.zeros(skeleton.shape[0], dtype=np.int64)
    step[np.isin(skeleton, _OPEN)] = 1
    step[np.isin(skeleton, _CLOSE)] = -1
    return int(np.cumsum(step).max(initial=0))


def _content_type(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == b"content-type":
            return value.decode("latin-1").split(";", 1)[0].strip().lower()
    return ""


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _is_json(content_type: str) -> bool:
    # FastAPI parses a body as JSON when it has no content type or an application/(*+)json one.
    if not content_type:
        return True
    main, _, sub = content_type.partition("/")
    return main == "application" and (sub == "json" or sub.endswith("+json"))


class BodyLimits:
    """Pure ASGI middleware. ``large`` maps (method, path) to a bigger cap for the few routes that
    carry big JSON on purpose (a job with its COCO ground truth inline)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_bytes: int,
        max_depth: int,
        large: dict[tuple[str, str], int] | None = None,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_depth = max_depth
        self.large = large or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        content_type = _content_type(scope)
        if content_type.startswith("multipart/"):
            await self.app(scope, receive, send)
            return
        limit = self.large.get((scope["method"], scope["path"].rstrip("/")), self.max_bytes)
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await self._refuse(scope, send, PayloadTooLarge(f"the request body is larger than {limit} bytes"))
            return

        chunks: list[bytes] = []
        size = 0
        disconnect: Message | None = None
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                disconnect = message
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await self._refuse(
                    scope, send, PayloadTooLarge(f"the request body is larger than {limit} bytes")
                )
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if _is_json(content_type) and body and json_depth(body) > self.max_depth:
            await self._refuse(
                scope, send, JsonTooDeep(f"the JSON body nests deeper than {self.max_depth} levels")
            )
            return

        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            if disconnect is not None:
                return disconnect
            return await receive()

        await self.app(scope, replay, send)

    @staticmethod
    async def _refuse(scope: Scope, send: Send, error: TileworkError) -> None:
        response = JSONResponse(
            error.to_body(), status_code=error.status_code, headers={"Connection": "close"}
        )
        await response(scope, _no_receive, send)


async def _no_receive() -> Message:
    return {"type": "http.disconnect"}
