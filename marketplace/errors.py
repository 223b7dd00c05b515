"""One exception hierarchy; ``install_error_handlers`` renders it as ``{"error", "detail"}`` JSON."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException


class TileworkError(Exception):
    status_code = 400
    code = "bad_request"

    def __init__(self, detail: str, *, field: str | None = None, extra: dict[str, Any] | None = None):
        super().__init__(detail)
        self.detail = detail
        self.field = field
        self.extra = extra or {}

    def headers(self) -> dict[str, str] | None:
        """Extra response headers (``Retry-After`` on a 429)."""
        return None

    def to_body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.code, "detail": self.detail}
        if self.field:
            body["field"] = self.field
        body.update(self.extra)
        return body


class InvalidInput(TileworkError):
    status_code = 422
    code = "invalid_input"


class Unauthorized(TileworkError):
    status_code = 401
    code = "unauthorized"


class Forbidden(TileworkError):
    status_code = 403
    code = "forbidden"


class DataNotOwned(Forbidden):
    """A job's data location that its requester has not shown to be theirs."""

    code = "data_not_owned"


class NotFound(TileworkError):
    status_code = 404
    code = "not_found"


class Conflict(TileworkError):
    status_code = 409
    code = "conflict"


class PayloadTooLarge(TileworkError):
    status_code = 413
    code = "payload_too_large"


class JsonTooDeep(TileworkError):
    """A JSON body nests deeper than the API accepts (refused before it is parsed)."""

    status_code = 400
    code = "json_too_deep"


class CrossOriginRefused(TileworkError):
    """A cookie-authenticated state change came from another origin (or named none)."""

    status_code = 403
    code = "cross_origin_refused"


class CsrfTokenInvalid(TileworkError):
    """A cookie-authenticated state change without the page's CSRF token."""

    status_code = 403
    code = "csrf_token_invalid"


class TooManyRequests(TileworkError):
    status_code = 429
    code = "rate_limited"

    def __init__(self, detail: str, *, retry_after: int, field: str | None = None):
        super().__init__(detail, field=field, extra={"retry_after": max(1, int(retry_after))})
        self.retry_after = max(1, int(retry_after))

    def headers(self) -> dict[str, str] | None:
        return {"Retry-After": str(self.retry_after)}


class PaymentRequired(TileworkError):
    status_code = 402
    code = "payment_required"


class BadGateway(TileworkError):
    """A payment provider or chain node refused or failed."""

    status_code = 502
    code = "payment_provider_error"


class ServiceUnavailable(TileworkError):
    """A configured part (a money rail) is not available here."""

    status_code = 503
    code = "rail_unavailable"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(TileworkError)
    async def _tilework(_: Request, exc: TileworkError) -> JSONResponse:
        return JSONResponse(status_code=exc.status_code, content=exc.to_body(), headers=exc.headers())

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [f"{'.'.join(str(p) for p in e['loc'] if p != 'body')}: {e['msg']}" for e in exc.errors()]
        return JSONResponse(
            status_code=422, content={"error": "invalid_input", "detail": "; ".join(problems)}
        )

    @app.exception_handler(RecursionError)
    async def _too_deep(_: Request, exc: RecursionError) -> JSONResponse:
        # Deep input that got past the body limits (a JSON field of a multipart form, a GT file):
        # with the interpreter's normal recursion limit this is an exception, never a crash.
        error = JsonTooDeep("the input nests too deeply")
        return JSONResponse(status_code=error.status_code, content=error.to_body())

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized"}.get(
            exc.status_code, "http_error"
        )
        return JSONResponse(
            status_code=exc.status_code,
            content={"error": code, "detail": str(exc.detail)},
            headers=getattr(exc, "headers", None),
        )
