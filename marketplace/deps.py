"""FastAPI dependencies: the unit-of-work session and the authenticated caller."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from marketplace.accounts.service import cached_user_for_token, user_for_token
from marketplace.config import Settings
from marketplace.db import end_unit_of_work
from marketplace.errors import Forbidden, Unauthorized
from marketplace.models import Role, User


async def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_session(request: Request) -> AsyncIterator[Session]:
    """One unit of work per request: commit if the handler returns, roll back if it raises.

    Used with ``scope="function"`` so the commit happens before the response is sent: a client that
    got a 201 can rely on the row being there.

    Opening a session takes no connection (its first query does), so that happens on the event loop;
    the end (commit or rollback, the work that waits for the commit, closing) talks to the database
    and runs in one worker thread (:func:`~marketplace.db.end_unit_of_work`, as ``session_scope``).
    Each hop to the thread pool costs CPU of its own: a request makes as few as it can.
    """
    session = request.app.state.session_factory()
    try:
        yield session
    except BaseException:
        await run_in_threadpool(end_unit_of_work, session, failed=True)
        raise
    await run_in_threadpool(end_unit_of_work, session, failed=False)


SessionDep = Annotated[Session, Depends(get_session, scope="function")]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value:
        return value.strip()
    return request.cookies.get("tw_token")


async def current_user(request: Request, session: SessionDep) -> User:
    """The caller. A token this process has seen in the last few seconds is answered from its cache
    on the event loop (no database); any other goes to a worker thread for the lookup."""
    token = bearer_token(request)
    if not token:
        raise Unauthorized("sign in first: send 'Authorization: Bearer <token>'")
    user = cached_user_for_token(session, token)
    if user is None:
        user = await run_in_threadpool(user_for_token, session, token)
    return user


CurrentUser = Annotated[User, Depends(current_user)]


def require_role(*roles: Role) -> Callable[[User], Awaitable[User]]:
    allowed = ", ".join(r.value for r in roles)

    async def _check(user: CurrentUser) -> User:  # no I/O: on the event loop
        if user.role not in roles:
            raise Forbidden(f"this action needs the role {allowed}; you are a {user.role.value}")
        return user

    return _check


RequesterUser = Annotated[User, Depends(require_role(Role.requester, Role.admin))]
WorkerUser = Annotated[User, Depends(require_role(Role.worker))]
ReviewerUser = Annotated[User, Depends(require_role(Role.reviewer, Role.admin))]
AdminUser = Annotated[User, Depends(require_role(Role.admin))]
