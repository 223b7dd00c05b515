"""One exception hierarchy; ``install_error_handlers`` renders it as ``{"error", "detail"}`` JSON.

``error`` is the category, one per status (``conflict``, ``not_found``, …). A **named error** (a
subclass with its own ``reason``: :class:`AssignmentExpired`, :class:`JobSettled`, …) adds that stable
machine code as ``reason``, so a client can tell a late submission from a double one without reading
prose. Every named error is registered by its reason; ``error_responses`` lists them, with what each
means, in the OpenAPI description of the status it answers with.

``ErrorOut`` is that body as a model, and ``error_responses`` documents it in the OpenAPI document
for the status codes a route can answer with.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)
UNBOUNDED_INPUT_LOG = "unbounded input reached the database on %s %s: %s"


class TileworkError(Exception):
    status_code = 400
    code = "bad_request"
    #: A named error's own stable code, sent as ``reason`` (see the module).
    reason: ClassVar[str | None] = None
    #: Every named error class by its reason.
    named: ClassVar[dict[str, type[TileworkError]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        reason = cls.__dict__.get("reason")
        if reason:
            if reason in TileworkError.named:
                raise TypeError(f"two named errors share the reason {reason!r}")
            TileworkError.named[reason] = cls

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
        if self.reason:
            body["reason"] = self.reason
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


class NotReady(TileworkError):
    """``/ready``: a part this process needs (database, Redis, storage, chain) is down or not set up.
    ``down`` maps each such part to what is wrong with it."""

    status_code = 503
    code = "not_ready"


class Misconfigured(TileworkError):
    """``tilework check`` (and ``serve`` in production) found the configuration wrong; ``problems``
    lists each misconfiguration by its code."""

    status_code = 500
    code = "misconfigured"


# -- named errors (their reasons are part of the API: never rename one) ----------------------------


class EmailTaken(Conflict):
    """An account with this email exists."""

    reason = "email_taken"


class JobNotActive(Conflict):
    """The job is not taking work (paused, completed or cancelled)."""

    reason = "job_not_active"


class JobNotFundable(Conflict):
    """The job is past the stage where it is funded (only a draft or unfunded job is)."""

    reason = "job_not_fundable"


class JobNotCancellable(Conflict):
    """The job cannot be cancelled in its state."""

    reason = "job_not_cancellable"


class JobNotFunded(Conflict):
    """The job has no completed funding, so no money can move for it."""

    reason = "job_not_funded"


class WrongRail(Conflict):
    """The job is funded on the other money rail."""

    reason = "wrong_rail"


class PayoutScheduleFixed(Conflict):
    """The payout schedule cannot change once the job is funded."""

    reason = "payout_schedule_fixed"


class ChainTokenMissing(Conflict):
    """No ERC-20 token is configured for the chain rail on this server."""

    reason = "chain_token_missing"


class SignInMessageUsed(Conflict):
    """A wallet sign-in message is single-use: ask for a new one."""

    reason = "message_used"


class WalletTaken(Conflict):
    """The wallet is linked to another account."""

    reason = "wallet_taken"


class DevWalletUnavailable(Conflict):
    """The development wallet exists only on the embedded development chain, never in production."""

    reason = "dev_wallet_unavailable"


class ClaimRace(Conflict):
    """Another claim of the same worker in the same job is in progress: retry."""

    reason = "claim_race"


class AssignmentExpired(Conflict):
    """The assignment's deadline passed before it was submitted: claim a new one."""

    reason = "assignment_expired"


class AlreadySubmitted(Conflict):
    """The assignment was submitted with different answers (the same answers again are accepted)."""

    reason = "already_submitted"


class NotRejected(Conflict):
    """Only a rejected assignment can be appealed."""

    reason = "not_rejected"


class AlreadyAppealed(Conflict):
    """An assignment is appealed once."""

    reason = "already_appealed"


class AlreadyDecided(Conflict):
    """A dispute is decided once."""

    reason = "already_decided"


class JobSettled(Conflict):
    """The job's money was paid out and refunded: nothing more can be paid from it."""

    reason = "job_settled"


class OverturnUnfunded(Conflict):
    """Overturned work cannot be paid: its chunk was finished by others and the fee left is too small."""

    reason = "overturn_unfunded"


class BudgetSpent(Conflict):
    """The job already paid every assignment its budget holds."""

    reason = "budget_spent"


class ProofMissing(Conflict):
    """The data source's ownership proof could not be read: write the token there first."""

    reason = "proof_missing"


class ProofMismatch(Conflict):
    """The data source's ownership proof does not hold the token."""

    reason = "proof_mismatch"


class WrongJobType(Conflict):
    """The operation exists for another job type (e.g. the box-to-polygon assist on a boxes job)."""

    reason = "wrong_job_type"


class NothingToReview(Conflict):
    """No pipeline item waits for this QA worker (none completed, none returned to them)."""

    reason = "nothing_to_review"


class ItemNotHeld(Conflict):
    """The pipeline item is not held by this QA worker (never claimed, decided, or the hold lapsed)."""

    reason = "item_not_held"


class QaStopped(Forbidden):
    """This QA worker missed too many of the pipeline's hidden defects and takes no more of its items."""

    reason = "qa_stopped"


class IssuesStillOpen(Conflict):
    """The pipeline item has open issues: it cannot be approved until they are fixed."""

    reason = "issues_open"


class WorkerNotEligible(Conflict):
    """The worker named cannot take these items of the stage (not in its team or, without a team, not
    one of its workers; stopped; or it is their own work to review, or their own issue to fix)."""

    reason = "worker_not_eligible"


#: Reasons sent by errors whose reason depends on the case (documented beside the named ones).
CASE_REASONS: dict[str, str] = {
    "<thing>_<status>": "a state change the thing's current status does not allow "
    "(e.g. assignment_accepted, job_completed)",
    "already_assigned, ahead_limit_reached, no_current_assignment, no_assignments_left, banned, "
    "job_not_active": "why a claim found nothing for this worker (error nothing_available)",
}


# -- the error body, documented ---------------------------------------------------------------------


class ProblemOut(BaseModel):
    field: str = Field(description="where: a body field (dotted for nested ones), or a path/query parameter")
    detail: str


class ErrorOut(BaseModel):
    """The body of every error answer."""

    model_config = ConfigDict(extra="allow")

    error: str = Field(description="a stable code: invalid_input, unauthorized, forbidden, not_found, ...")
    detail: str = Field(description="what went wrong, in a sentence")
    field: str | None = Field(default=None, description="the input concerned, when there is one")
    reason: str | None = Field(
        default=None, description="a named error's stable code (listed under each status of a route)"
    )
    problems: list[ProblemOut] | None = Field(
        default=None, description="request validation (422): every problem found, in order"
    )


ERROR_DESCRIPTIONS: dict[int, str] = {
    400: "malformed request: the body could not be read",
    401: "not signed in, or the token is unknown, expired or revoked",
    402: "payment required",
    403: "your role or account may not do this",
    404: "no such resource, or not one you may see",
    405: "method not allowed",
    409: "conflicts with the current state",
    413: "too large",
    422: "invalid input: `field` names the first problem, `problems` lists them all",
    429: "too many attempts: wait and retry",
    502: "the payment provider or chain node refused or failed",
    503: "a money rail is not available on this server",
}


def error_responses(
    *codes: int, descriptions: dict[int, str] | None = None
) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` entry of a route: ``ErrorOut`` for each status code it can answer with."""
    described = {**ERROR_DESCRIPTIONS, **(descriptions or {})}
    return {
        code: {"model": ErrorOut, "description": described[code] + _named_for(code)} for code in sorted(codes)
    }


def _named_for(status: int) -> str:
    """The named errors of one status, for its OpenAPI description."""
    lines = [
        f"- `{reason}`: {(cls.__doc__ or '').strip().splitlines()[0]}"
        for reason, cls in sorted(TileworkError.named.items())
        if cls.status_code == status
    ]
    if status == 409:
        lines += [f"- `{reasons}`: {what}" for reasons, what in CASE_REASONS.items()]
    return "\n\nNamed errors (`reason`):\n" + "\n".join(lines) if lines else ""


# -- rendering -------------------------------------------------------------------------------------

_LOCATIONS = ("body", "query", "path", "header", "cookie")


def validation_body(errors: Any) -> dict[str, Any]:
    """A 422 ``ErrorOut`` from pydantic's error list: ``detail`` joins them, ``field`` is the first."""
    problems: list[dict[str, str]] = []
    lines: list[str] = []
    for e in errors:
        loc = [str(p) for p in e.get("loc", ())]
        field = ".".join(loc[1:] if len(loc) > 1 and loc[0] in _LOCATIONS else loc) or "body"
        message = str(e.get("msg", "invalid")).removeprefix("Value error, ")
        lines.append(f"{'.'.join(p for p in loc if p != 'body') or 'body'}: {message}")
        problems.append({"field": field, "detail": message})
    body: dict[str, Any] = {"error": "invalid_input", "detail": "; ".join(lines) or "invalid input"}
    if problems:
        body["field"] = problems[0]["field"]
        body["problems"] = problems
    return body


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(TileworkError)
    async def _tilework(_: Request, exc: TileworkError) -> JSONResponse:
        return JSONResponse(status_code=exc.status_code, content=exc.to_body(), headers=exc.headers())

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(status_code=422, content=validation_body(exc.errors()))

    @app.exception_handler(DataError)
    async def _unstorable(request: Request, exc: DataError) -> JSONResponse:
        # A backstop: the bounded types of ``marketplace.bounds`` should refuse such input first, so
        # this is logged as a defect of the route's types (the fuzz test fails on it).
        log.warning(UNBOUNDED_INPUT_LOG, request.method, request.url.path, exc.orig)
        return JSONResponse(
            status_code=422,
            content={"error": "invalid_input", "detail": "a value in the request cannot be stored here"},
        )

    @app.exception_handler(RecursionError)
    async def _too_deep(_: Request, exc: RecursionError) -> JSONResponse:
        # Deep input that got past the body limits (a JSON field of a multipart form, a GT file):
        # with the interpreter's normal recursion limit this is an exception, never a crash.
        error = JsonTooDeep("the input nests too deeply")
        return JSONResponse(status_code=error.status_code, content=error.to_body())

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 401: "unauthorized"}.get(
            exc.status_code, "http_error"
        )
        return JSONResponse(
            status_code=exc.status_code,
            content={"error": code, "detail": str(exc.detail)},
            headers=getattr(exc, "headers", None),
        )


class LastResort:
    """Pure ASGI middleware: an unexpected exception becomes a JSON 500 and the connection stays usable.

    Without it, Starlette sends its plain-text 500 and re-raises, and uvicorn then closes the
    keep-alive connection under the client: the *next* request on it (``GET /api/jobs/-1`` after a
    500, in the report that found this) fails with a dropped connection instead of its answer.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            if started:
                raise  # half an answer is out: only closing the connection can tell the client
            response = JSONResponse(
                status_code=500,
                content={"error": "internal_error", "detail": "the server failed on this request"},
            )
            await response(scope, receive, send)
