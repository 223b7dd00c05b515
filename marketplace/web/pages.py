"""Server-rendered pages. Each page is a thin shell; the ES modules in ``static/js`` call the JSON API.

Sign-in sets the ``tw_token`` cookie (HttpOnly, SameSite=Lax) that :func:`marketplace.deps.bearer_token`
already accepts, so the pages' ``fetch`` calls to ``/api/...`` are authenticated without JavaScript ever
seeing the token. SameSite=Lax keeps other sites from riding on the cookie with a cross-site POST.
"""

from __future__ import annotations

import hashlib
import json
import logging
from functools import lru_cache
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup
from pydantic import ValidationError
from sqlalchemy.orm import Session

from marketplace import __version__
from marketplace.accounts import repository as accounts_repository
from marketplace.accounts import service as accounts_service
from marketplace.accounts.api import LoginGuardDep, client_address
from marketplace.accounts.schemas import SELF_SERVICE_ROLES, RegisterIn
from marketplace.accounts.security import token_digest
from marketplace.bounds import Id, unstorable_text
from marketplace.config import Settings
from marketplace.deps import CurrentUser, SessionDep, SettingsDep, bearer_token
from marketplace.edge.csrf import csrf_token as current_csrf_token
from marketplace.edge.csrf import form_token_ok
from marketplace.errors import CsrfTokenInvalid, TileworkError
from marketplace.models import Role, User, utcnow
from marketplace.payments.rails import currencies, get_rails
from marketplace.web.render import STATIC, render

COOKIE = "tw_token"

router = APIRouter(tags=["pages"], include_in_schema=False)
log = logging.getLogger(__name__)

NAV: dict[Role | None, list[tuple[str, str]]] = {
    None: [("/signin", "Sign in"), ("/signup", "Sign up")],
    Role.worker: [
        ("/work", "Job board"),
        ("/work/qa", "QA"),
        ("/work/fixes", "Fixes"),
        ("/work/earnings", "Earnings"),
    ],
    Role.requester: [("/jobs", "My jobs"), ("/jobs/new", "New job"), ("/pipelines", "Pipelines")],
    Role.reviewer: [("/review", "Disputes"), ("/jobs", "Jobs"), ("/pipelines", "Pipelines")],
    Role.admin: [
        ("/review", "Disputes"),
        ("/jobs", "Jobs"),
        ("/jobs/new", "New job"),
        ("/pipelines", "Pipelines"),
    ],
}

HOME: dict[Role, str] = {
    Role.worker: "/work",
    Role.requester: "/jobs",
    Role.reviewer: "/review",
    Role.admin: "/jobs",
}


@lru_cache(maxsize=1)
def asset_version() -> str:
    """A hash of the static files, appended to asset URLs so a deploy never serves stale modules."""
    digest = hashlib.sha256(__version__.encode())
    for path in sorted(STATIC.rglob("*")):
        if path.is_file():
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


# -- helpers --------------------------------------------------------------------------------------


def page_user(request: Request, session: Session) -> User | None:
    token = bearer_token(request)
    if not token:
        return None
    try:
        return accounts_service.user_for_token(session, token)
    except TileworkError:
        return None


def page(
    title: str,
    body: Markup,
    *,
    user: User | None,
    current: str = "",
    module: str | None = None,
    config: dict[str, Any] | None = None,
    body_class: str = "",
    status_code: int = 200,
) -> HTMLResponse:
    html = render(
        "layout.html",
        title=title,
        nav=NAV[user.role if user else None],
        current=current,
        user_name=(user.display_name or user.email) if user else "",
        body=body,
        module=module,
        config=json.dumps({"currencies": _currencies(), **(config or {})}),
        role=user.role.value if user else "",
        body_class=body_class,
        asset_version=asset_version(),
        csrf_token=current_csrf_token(),
    )
    return HTMLResponse(html, status_code=status_code, headers={"Cache-Control": "no-store"})


def _currencies() -> dict[str, dict[str, Any]]:
    """Every page's money table for ``formatAmount``: decimals and symbol per currency code."""
    try:
        found = currencies(get_rails())
    except Exception:  # a rail that cannot be reached must not take the pages down
        log.warning("could not read the rails' currencies", exc_info=True)
        found = []
    return {m.code: {"symbol": m.symbol, "decimals": m.decimals, "rail": m.rail, "enabled": m.enabled}
            for m in found}  # fmt: skip


def _safe_next(target: str | None) -> str | None:
    """Only same-site paths: ``/x`` yes; ``//evil``, ``/\\evil`` and absolute URLs no."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return None
    return target


def _signin_redirect(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    from urllib.parse import quote

    return RedirectResponse(f"/signin?next={quote(target, safe='/')}", status_code=303)


def _forbidden(user: User, needed: str) -> HTMLResponse:
    body = render(
        "message.html",
        heading="Not for this account",
        message=f"This page is for {needed} accounts; you are signed in as a {user.role.value}.",
        action_href=HOME[user.role],
        action_text="Go to your start page",
    )
    return page("Not for this account", body, user=user, status_code=403)


def signed_in_as(request: Request, session: Session, roles: tuple[Role, ...], needed: str) -> User | Response:
    """The signed-in user when their role is one of ``roles``; else the sign-in redirect or a 403 page."""
    user = page_user(request, session)
    if user is None:
        return _signin_redirect(request)
    if user.role not in roles:
        return _forbidden(user, needed)
    return user


def _set_session_cookie(response: Response, request: Request, token: str, settings: Settings) -> None:
    response.set_cookie(
        COOKIE,
        token,
        max_age=settings.token_ttl_days * 24 * 3600,
        httponly=True,
        samesite="lax",
        secure=settings.environment == "production" or request.url.scheme == "https",
        path="/",
    )


FORM_EXPIRED = "This form has expired or did not come from this site. Please try again."


# -- sign in / up / out ---------------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse)
def home(request: Request, session: SessionDep) -> Response:
    user = page_user(request, session)
    if user is None:
        return RedirectResponse("/signin", status_code=303)
    return RedirectResponse(HOME[user.role], status_code=303)


def _signin_page(
    *, next_url: str = "", email: str = "", error: str | None = None, status_code: int = 200
) -> Response:
    body = render(
        "signin.html",
        next=next_url,
        email=email,
        form_error=error,
        csrf_token=current_csrf_token(),
    )
    return page("Sign in", body, user=None, current="/signin", status_code=status_code)


@router.get("/signin", response_class=HTMLResponse)
def signin_form(request: Request, session: SessionDep, next: str = "") -> Response:
    user = page_user(request, session)
    if user is not None:
        return RedirectResponse(_safe_next(next) or HOME[user.role], status_code=303)
    return _signin_page(next_url=_safe_next(next) or "")


@router.post("/signin", response_class=HTMLResponse)
def signin(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    guard: LoginGuardDep,
    email: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    next_url = _safe_next(next) or ""
    if not form_token_ok(request, csrf_token):
        return _signin_page(next_url=next_url, email=email, error=FORM_EXPIRED, status_code=403)
    if not email or not password or unstorable_text([email, password]):
        return _signin_page(
            next_url=next_url, email=email, error="Enter your email and password.", status_code=422
        )
    try:
        user = guard.authenticate(session, email, password, client_address(request))
    except TileworkError as exc:
        page_ = _signin_page(next_url=next_url, email=email, error=exc.detail, status_code=exc.status_code)
        page_.headers.update(exc.headers() or {})
        return page_
    token, _ = accounts_service.issue_token(session, user, name="web", ttl_days=settings.token_ttl_days)
    response = RedirectResponse(next_url or HOME[user.role], status_code=303)
    _set_session_cookie(response, request, token, settings)
    return response


def _signup_page(
    values: dict[str, str], errors: dict[str, str], form_error: str | None = None, status_code: int = 200
) -> Response:
    body = render(
        "signup.html",
        email=values.get("email", ""),
        display_name=values.get("display_name", ""),
        role=values.get("role") or "worker",
        form_error=form_error,
        errors=errors,
        csrf_token=current_csrf_token(),
    )
    return page("Sign up", body, user=None, current="/signup", status_code=status_code)


@router.get("/signup", response_class=HTMLResponse)
def signup_form(request: Request, session: SessionDep) -> Response:
    user = page_user(request, session)
    if user is not None:
        return RedirectResponse(HOME[user.role], status_code=303)
    return _signup_page({}, {})


@router.post("/signup", response_class=HTMLResponse)
def signup(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    email: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    role: Annotated[str, Form()] = "",
    display_name: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    values = {"email": email, "role": role, "display_name": display_name}
    if not form_token_ok(request, csrf_token):
        return _signup_page(values, {}, form_error=FORM_EXPIRED, status_code=403)
    if role not in {r.value for r in SELF_SERVICE_ROLES}:
        return _signup_page(values, {"role": "Choose worker or requester."}, status_code=422)
    try:
        body = RegisterIn(email=email, password=password, role=Role(role), display_name=display_name)
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for problem in exc.errors():
            field = str(problem["loc"][0]) if problem["loc"] else "email"
            message = str(problem["msg"]).removeprefix("Value error, ")
            errors.setdefault(field, message[:1].upper() + message[1:] + ".")
        return _signup_page(values, errors, status_code=422)
    try:
        user = accounts_service.register(
            session, email=body.email, password=body.password, role=body.role, display_name=body.display_name
        )
    except TileworkError as exc:
        field = exc.field or ""
        if field in {"email", "password", "role", "display_name"}:
            return _signup_page(values, {field: exc.detail}, status_code=exc.status_code)
        return _signup_page(values, {}, form_error=exc.detail, status_code=exc.status_code)
    token, _ = accounts_service.issue_token(session, user, name="web", ttl_days=settings.token_ttl_days)
    response = RedirectResponse(HOME[user.role], status_code=303)
    _set_session_cookie(response, request, token, settings)
    return response


@router.post("/signout")
def signout(request: Request, session: SessionDep, csrf_token: Annotated[str, Form()] = "") -> Response:
    if not form_token_ok(request, csrf_token):
        raise CsrfTokenInvalid("sign out from this site's own pages")
    token = request.cookies.get(COOKIE)
    if token:
        found = accounts_repository.find_live_token(session, token_digest(token), utcnow())
        if found is not None:
            found[0].revoked_at = utcnow()
    response = RedirectResponse("/signin", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


# -- worker ---------------------------------------------------------------------------------------


@router.get("/work", response_class=HTMLResponse)
def job_board(request: Request, session: SessionDep) -> Response:
    user = signed_in_as(request, session, (Role.worker,), "worker")
    if not isinstance(user, User):
        return user
    return page("Job board", render("board.html"), user=user, current="/work", module="board.js")


@router.get("/work/jobs/{job_id}", response_class=HTMLResponse)
def annotate(job_id: Id, request: Request, session: SessionDep) -> Response:
    user = signed_in_as(request, session, (Role.worker,), "worker")
    if not isinstance(user, User):
        return user
    return page(
        "Annotate",
        render("annotate.html"),
        user=user,
        current="/work",
        module="annotate.js",
        config={"job_id": job_id},
        body_class="annotating",
    )


@router.get("/work/qa", response_class=HTMLResponse)
def qa_page(request: Request, session: SessionDep) -> Response:
    """Pipeline QA: claim an item, flag boxes or missing objects, send issues, approve or discard."""
    user = signed_in_as(request, session, (Role.worker,), "worker")
    if not isinstance(user, User):
        return user
    return page(
        "Quality check",
        render("qa.html"),
        user=user,
        current="/work/qa",
        module="qa.js",
        body_class="annotating",
    )


@router.get("/work/fixes", response_class=HTMLResponse)
def fixes_page(request: Request, session: SessionDep) -> Response:
    """The issues QA raised on this annotator's pipeline work, to fix in the box editor."""
    user = signed_in_as(request, session, (Role.worker,), "worker")
    if not isinstance(user, User):
        return user
    return page(
        "Fixes",
        render("fixes.html"),
        user=user,
        current="/work/fixes",
        module="fixes.js",
        body_class="annotating",
    )


def _worker_jobs(session: Session, worker: User, fee_bps: int) -> dict[str, dict[str, Any]]:
    """Target and pay of every job the worker holds or held an assignment in (not in the assignment API)."""
    from sqlalchemy import select

    from marketplace.jobs.economics import budget
    from marketplace.models import Assignment, Job

    job_ids = select(Assignment.job_id).where(Assignment.worker_id == worker.id).distinct()
    out: dict[str, dict[str, Any]] = {}
    for job in session.scalars(select(Job).where(Job.id.in_(job_ids))):
        plan = budget(job.bounty_amount, fee_bps, *job.work_units, job.overlap_cap)
        out[str(job.id)] = {
            "accuracy_target": job.accuracy_target,
            "pay_per_assignment": str(plan.pay_per_assignment),
            "currency": job.currency,
            "rail": job.rail.value,
        }
    return out


def _destinations(session: Session, worker: User) -> list[dict[str, Any]]:
    from sqlalchemy import select

    from marketplace.models import PayoutDestination

    rows = session.scalars(select(PayoutDestination).where(PayoutDestination.user_id == worker.id))
    return [
        {"rail": d.rail.value, "destination": d.destination, "verified": d.verified_at is not None}
        for d in rows
    ]


@router.get("/work/earnings", response_class=HTMLResponse)
def earnings(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    user = signed_in_as(request, session, (Role.worker,), "worker")
    if not isinstance(user, User):
        return user
    config = {
        "jobs": _worker_jobs(session, user, settings.platform_fee_bps),
        "destinations": _destinations(session, user),
    }
    return page(
        "Earnings",
        render("earnings.html"),
        user=user,
        current="/work/earnings",
        module="earnings.js",
        config=config,
    )


@router.get("/worker/payouts")
def stripe_onboarding_return() -> Response:
    """Where Stripe Connect onboarding sends the worker back (the payments API names this URL)."""
    return RedirectResponse("/work/earnings#payout", status_code=303)


# -- requester ------------------------------------------------------------------------------------

JOB_VIEWERS = (Role.requester, Role.admin, Role.reviewer)


@router.get("/jobs", response_class=HTMLResponse)
def my_jobs(request: Request, session: SessionDep) -> Response:
    user = signed_in_as(request, session, JOB_VIEWERS, "requester")
    if not isinstance(user, User):
        return user
    return page("Jobs", render("jobs.html"), user=user, current="/jobs", module="jobs.js")


@router.get("/jobs/new", response_class=HTMLResponse)
def new_job(request: Request, session: SessionDep) -> Response:
    user = signed_in_as(request, session, (Role.requester, Role.admin), "requester")
    if not isinstance(user, User):
        return user
    return page("New job", render("job_new.html"), user=user, current="/jobs/new", module="job_new.js")


@router.get("/jobs/{job_id}", response_class=HTMLResponse)
def job_page(job_id: Id, request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    user = signed_in_as(request, session, JOB_VIEWERS, "requester")
    if not isinstance(user, User):
        return user
    return page(
        f"Job {job_id}",
        render("job.html", job_id=job_id, can_manage=user.role in (Role.requester, Role.admin)),
        user=user,
        current="/jobs",
        module="job.js",
        config={
            "job_id": job_id,
            "can_manage": user.role in (Role.requester, Role.admin),
            "fund_selector": FUND_SELECTOR,
            "approve_selector": APPROVE_SELECTOR,
            # card: "emulator" (the marked test-card path), "stripe" (Stripe.js Payment Element with
            # the publishable key), "no_publishable_key" or "off"
            "card_mode": settings.card_mode,
            # the embedded development chain's wallet can fund jobs (never in production)
            "dev_wallet": _dev_wallet_available(settings),
            "stripe_publishable_key": settings.stripe_publishable_key
            if settings.card_mode == "stripe"
            else None,
        },
    )


@router.get("/jobs/{job_id}/results", response_class=HTMLResponse)
def results_page(job_id: Id, request: Request, session: SessionDep) -> Response:
    user = signed_in_as(request, session, (Role.requester, Role.admin), "requester")
    if not isinstance(user, User):
        return user
    return page(
        f"Results of job {job_id}",
        render("results.html", job_id=job_id),
        user=user,
        current="/jobs",
        module="results.js",
        config={"job_id": job_id},
    )


def _dev_wallet_available(settings: Settings) -> bool:
    if settings.environment == "production":
        return False
    try:
        return get_rails().dev_wallet is not None
    except Exception:
        return False


def _selector(signature: str) -> str:
    from eth_utils import keccak

    return "0x" + keccak(text=signature)[:4].hex()


FUND_SELECTOR = _selector("fund(bytes32,address,uint256,uint64,bytes32)")
APPROVE_SELECTOR = _selector("approve(address,uint256)")


@router.get("/web/jobs/{job_id}/scores.json")
def job_scores(job_id: Id, user: CurrentUser, session: SessionDep) -> dict[str, Any]:
    """Data for the job page's histogram and worker table (scores only, never answers)."""
    from sqlalchemy import select

    from marketplace.errors import Forbidden
    from marketplace.jobs.service import get_job_for
    from marketplace.models import Assignment, AssignmentStatus

    if user.role is Role.worker:
        raise Forbidden("workers see their own assignments, not a job's scores")
    job = get_job_for(session, user, job_id)
    rows = session.execute(
        select(Assignment.worker_id, Assignment.status, Assignment.score).where(
            Assignment.job_id == job.id, Assignment.submitted_at.is_not(None)
        )
    ).all()
    workers: dict[int, dict[str, Any]] = {}
    scores: list[float] = []
    for worker_id, status, score in rows:
        w = workers.setdefault(
            worker_id, {"worker_id": worker_id, "submitted": 0, "accepted": 0, "rejected": 0, "scores": []}
        )
        w["submitted"] += 1
        if status is AssignmentStatus.accepted:
            w["accepted"] += 1
        elif status is AssignmentStatus.rejected:
            w["rejected"] += 1
        if score is not None:
            w["scores"].append(score)
            scores.append(score)
    table = []
    for w in workers.values():
        got = w.pop("scores")
        w["mean_score"] = sum(got) / len(got) if got else None
        table.append(w)
    table.sort(key=lambda w: (-w["submitted"], w["worker_id"]))
    return {"job_id": job.id, "accuracy_target": job.accuracy_target, "scores": scores, "workers": table}


# -- reviewer -------------------------------------------------------------------------------------


@router.get("/review", response_class=HTMLResponse)
def review(request: Request, session: SessionDep) -> Response:
    user = signed_in_as(request, session, (Role.reviewer, Role.admin), "reviewer")
    if not isinstance(user, User):
        return user
    return page("Disputes", render("review.html"), user=user, current="/review", module="review.js")


@router.get("/web/people.json")
def people(user: CurrentUser, session: SessionDep, ids: str = "") -> dict[str, dict[str, str]]:
    """Names and roles for the reviewer console's history ("who"), reviewers and admins only."""
    from sqlalchemy import select

    from marketplace.errors import Forbidden, InvalidInput

    if user.role not in (Role.reviewer, Role.admin):
        raise Forbidden("only reviewers see who is who")
    try:
        wanted = {int(part) for part in ids.split(",") if part.strip()}
    except ValueError as exc:
        raise InvalidInput("ids: a comma-separated list of user ids", field="ids") from exc
    if len(wanted) > 200:
        raise InvalidInput("ids: at most 200 at once", field="ids")
    rows = list(session.scalars(select(User).where(User.id.in_(wanted)))) if wanted else []
    return {str(u.id): {"name": u.display_name or u.email, "role": u.role.value} for u in rows}


def install_web(app: Any) -> None:
    """Mount the static assets and the pages on the app (called by ``create_app``)."""
    from fastapi.staticfiles import StaticFiles

    from marketplace.web.pipeline_pages import router as pipeline_router

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(router)
    app.include_router(pipeline_router)
