"""A request's unit of work (``marketplace.deps``): one commit when the route succeeds, a rollback when
it raises, whether the route lets ``get_session`` end it or ends it with its work in one worker thread
(``in_unit_of_work``, the claim and submit routes)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from marketplace.app import create_app
from marketplace.config import Settings
from marketplace.deps import SessionDep, in_unit_of_work
from marketplace.errors import Conflict
from marketplace.models import Role, User


@pytest.fixture
def app(settings: Settings) -> Iterator[FastAPI]:
    app = create_app(settings)
    commits: list[int] = []
    app.state.commits = commits

    def add(session: Session, email: str, fail: bool) -> dict[str, str]:
        event.listen(session, "after_commit", lambda _s: commits.append(1))
        session.add(User(email=email, password_hash="x", role=Role.worker))
        session.flush()
        if fail:
            raise Conflict("refused after the insert")
        return {"email": email}

    def sync_route(email: str, fail: bool, session: SessionDep) -> dict[str, str]:
        return add(session, email, fail)

    async def async_route(email: str, fail: bool, session: SessionDep) -> dict[str, str]:
        return await in_unit_of_work(session, add, session, email, fail)

    app.add_api_route("/__uow/sync", sync_route, methods=["POST"])
    app.add_api_route("/__uow/async", async_route, methods=["POST"])
    yield app


def _users(app: FastAPI, email: str) -> int:
    with app.state.session_factory() as session:
        return int(session.scalar(select(func.count()).select_from(User).where(User.email == email)) or 0)


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_committed_once_before_the_answer_or_rolled_back(app: FastAPI, kind: str) -> None:
    with TestClient(app) as client:
        ok = client.post(f"/__uow/{kind}", params={"email": f"{kind}-ok@example.org", "fail": False})
        assert ok.status_code == 200
        assert _users(app, f"{kind}-ok@example.org") == 1
        assert app.state.commits == [1]  # get_session does not commit a second time

        refused = client.post(f"/__uow/{kind}", params={"email": f"{kind}-no@example.org", "fail": True})
        assert refused.status_code == 409
        assert _users(app, f"{kind}-no@example.org") == 0
        assert app.state.commits == [1]
