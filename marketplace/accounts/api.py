from __future__ import annotations

from fastapi import APIRouter, status

from marketplace.accounts import repository, service
from marketplace.accounts.schemas import (
    SELF_SERVICE_ROLES,
    LoginIn,
    RegisterIn,
    TokenIn,
    TokenOut,
    UserOut,
)
from marketplace.bounds import Id
from marketplace.deps import AdminUser, CurrentUser, SessionDep, SettingsDep
from marketplace.errors import Forbidden, error_responses

router = APIRouter(prefix="/api", tags=["accounts"])


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
def login(body: LoginIn, session: SessionDep, settings: SettingsDep) -> TokenOut:
    user = service.authenticate(session, body.email, body.password)
    token, row = service.issue_token(session, user, name="login", ttl_days=settings.token_ttl_days)
    return TokenOut(token=token, expires_at=row.expires_at, name=row.name)


@router.post(
    "/auth/tokens",
    response_model=TokenOut,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(400, 401, 403, 413, 422),
)
def create_token(body: TokenIn, user: CurrentUser, session: SessionDep, settings: SettingsDep) -> TokenOut:
    """A named API token for scripts; it is shown once."""
    token, row = service.issue_token(
        session, user, name=body.name, ttl_days=body.ttl_days or settings.token_ttl_days
    )
    return TokenOut(token=token, expires_at=row.expires_at, name=row.name)


@router.delete(
    "/auth/tokens/{token_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(401, 403, 404, 422),
)
def revoke_token(token_id: Id, user: CurrentUser, session: SessionDep) -> None:
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
