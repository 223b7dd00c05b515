from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, status

from marketplace.accounts import repository, service
from marketplace.accounts.login_guard import LoginGuard
from marketplace.accounts.schemas import (
    SELF_SERVICE_ROLES,
    LoginIn,
    RegisterIn,
    TokenIn,
    TokenInfo,
    TokenOut,
    UserOut,
)
from marketplace.accounts.security import token_digest
from marketplace.bounds import Id
from marketplace.deps import AdminUser, CurrentUser, SessionDep, SettingsDep, bearer_token
from marketplace.errors import Forbidden, error_responses

router = APIRouter(prefix="/api", tags=["accounts"])


def login_guard(request: Request) -> LoginGuard:
    guard: LoginGuard = request.app.state.login_guard
    return guard


LoginGuardDep = Annotated[LoginGuard, Depends(login_guard)]


def client_address(request: Request) -> str | None:
    return request.client.host if request.client else None


@router.post(
    "/auth/register",
    response_model=UserOut,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(400, 403, 409, 413, 422),
)
def register(body: RegisterIn, session: SessionDep) -> UserOut:
    """Self-service sign-up for requesters and workers. Reviewers and admins are created by an admin."""
    if body.role not in SELF_SERVICE_ROLES:
        raise Forbidden(f"a {body.role.value} account is created by an admin, not by sign-up", field="role")
    user = service.register(
        session, email=body.email, password=body.password, role=body.role, display_name=body.display_name
    )
    return UserOut.model_validate(user)


@router.post("/auth/login", response_model=TokenOut, responses=error_responses(400, 401, 403, 413, 422, 429))
def login(
    body: LoginIn, request: Request, session: SessionDep, settings: SettingsDep, guard: LoginGuardDep
) -> TokenOut:
    """Rate-limited per client address and per account: 429 with ``Retry-After`` past the limits."""
    user = guard.authenticate(session, body.email, body.password, client_address(request))
    token, row = service.issue_token(session, user, name="login", ttl_days=settings.token_ttl_days)
    return TokenOut(id=row.id, token=token, expires_at=row.expires_at, name=row.name)


@router.get("/auth/tokens", response_model=list[TokenInfo], responses=error_responses(401))
def list_tokens(user: CurrentUser, session: SessionDep, request: Request) -> list[TokenInfo]:
    """The caller's own tokens (sign-ins, scripts), newest last; never their secrets."""
    presented = bearer_token(request)
    current = token_digest(presented) if presented else None
    return [
        TokenInfo(
            id=row.id,
            name=row.name,
            created_at=row.created_at,
            expires_at=row.expires_at,
            revoked_at=row.revoked_at,
            active=service.token_is_live(row),
            current=row.token_hash == current,
        )
        for row in service.list_tokens(session, user)
    ]


@router.post(
    "/auth/tokens",
    response_model=TokenOut,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(400, 401, 403, 413, 422),
)
def create_token(body: TokenIn, user: CurrentUser, session: SessionDep, settings: SettingsDep) -> TokenOut:
    """A named API token for scripts, valid for ``ttl_days``; it is shown once."""
    token, row = service.issue_token(
        session, user, name=body.name, ttl_days=body.ttl_days or settings.token_ttl_days
    )
    return TokenOut(id=row.id, token=token, expires_at=row.expires_at, name=row.name)


@router.delete(
    "/auth/tokens/{token_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(401, 403, 404, 422),
)
def revoke_token(token_id: Id, user: CurrentUser, session: SessionDep) -> None:
    """Revoke one of your own tokens at once (a sign-in's or a script's)."""
    service.revoke_token(session, user, token_id)


@router.get("/me", response_model=UserOut, responses=error_responses(401))
def me(user: CurrentUser) -> UserOut:
    return UserOut.model_validate(user)


@router.post(
    "/admin/users",
    response_model=UserOut,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(400, 401, 403, 409, 413, 422),
)
def admin_create_user(body: RegisterIn, _: AdminUser, session: SessionDep) -> UserOut:
    """Admins create accounts of any role, reviewers and admins included."""
    user = service.register(
        session, email=body.email, password=body.password, role=body.role, display_name=body.display_name
    )
    return UserOut.model_validate(user)


@router.get("/admin/users", response_model=list[UserOut], responses=error_responses(401, 403))
def admin_list_users(_: AdminUser, session: SessionDep) -> list[UserOut]:
    return [UserOut.model_validate(u) for u in repository.list_users(session)]
