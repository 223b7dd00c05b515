"""FastAPI dependencies: the unit-of-work session and the authenticated caller."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from marketplace.accounts.service import cached_user_for_token, user_for_token
from marketplace.config import Settings
from marketplace.db import end_unit_of_work
from marketplace.errors import Forbidden, Unauthorized
from marketplace.models import Role, User

T = TypeVar("T")
_ENDED = "unit_of_work_ended"


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
        if not session.info.get(_ENDED):
            await run_in_threadpool(end_unit_of_work, session, failed=True)
        raise
    if not session.info.get(_ENDED):
        await run_in_threadpool(end_unit_of_work, session, failed=False)


async def in_unit_of_work(session: Session, work: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``work(*args, **kwargs)`` and then the end of the request's unit of work (commit, or roll back
    if it raised), both in one worker thread: a route that hands its work to a thread this way makes
    one hop where a sync route makes three (the work, the end of the session, the check of the
    returned model); :func:`get_session` then finds the session ended. The commit still precedes the
    response; the response model is checked after it, on the event loop (the route returns an
    instance of that model, which pydantic does not validate again)."""

    def run() -> T:
        try:
            result = work(*args, **kwargs)
        except BaseException:
            end_unit_of_work(session, failed=True)
            raise
        end_unit_of_work(session, failed=False)
        return result

    try:
        return await run_in_threadpool(run)  # not abandoned on cancellation: waits for the thread
    finally:
        session.info[_ENDED] = True


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
