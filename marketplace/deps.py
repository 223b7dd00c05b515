"""FastAPI dependencies: the unit-of-work session and the authenticated caller."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from marketplace.accounts.service import user_for_token
from marketplace.config import Settings
from marketplace.db import session_scope
from marketplace.errors import Forbidden, Unauthorized
from marketplace.models import Role, User


def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_session(request: Request) -> Iterator[Session]:
    """One unit of work per request: commit if the handler returns, roll back if it raises.

    Used with ``scope="function"`` so the commit happens before the response is sent: a client that
    got a 201 can rely on the row being there.
    """
    with session_scope(request.app.state.session_factory) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session, scope="function")]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value:
        return value.strip()
    return request.cookies.get("tw_token")


def current_user(request: Request, session: SessionDep) -> User:
    token = bearer_token(request)
    if not token:
        raise Unauthorized("sign in first: send 'Authorization: Bearer <token>'")
    return user_for_token(session, token)


CurrentUser = Annotated[User, Depends(current_user)]


def require_role(*roles: Role) -> Callable[[User], User]:
    allowed = ", ".join(r.value for r in roles)

    def _check(user: CurrentUser) -> User:
        if user.role not in roles:
            raise Forbidden(f"this action needs the role {allowed}; you are a {user.role.value}")
        return user

    return _check


RequesterUser = Annotated[User, Depends(require_role(Role.requester, Role.admin))]
WorkerUser = Annotated[User, Depends(require_role(Role.worker))]
ReviewerUser = Annotated[User, Depends(require_role(Role.reviewer, Role.admin))]
AdminUser = Annotated[User, Depends(require_role(Role.admin))]
