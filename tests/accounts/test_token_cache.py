"""The per-process token cache: a revocation or a disabled account through the ORM stops a cached
token at once; one made behind the ORM's back (another process, raw SQL) within the TTL bound."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text

from marketplace.accounts import token_cache
from marketplace.db import session_factory, session_scope
from marketplace.models import User


@pytest.fixture
def short_ttl() -> Iterator[float]:
    token_cache.configure(0.5)
    yield 0.5
    token_cache.configure(token_cache.TTL_S)


def test_disabling_a_user_through_the_orm_stops_a_cached_token_at_once(
    client: TestClient, make_user: Any, settings: Any
) -> None:
    user = make_user("worker")
    assert client.get("/api/me", headers=user["headers"]).status_code == 200  # now cached
    with session_scope(session_factory(settings)) as s:
        s.scalars(select(User).where(User.id == user["id"])).one().is_active = False
    assert client.get("/api/me", headers=user["headers"]).status_code == 401


def test_a_change_behind_the_orm_takes_at_most_the_ttl(
    client: TestClient, make_user: Any, settings: Any, short_ttl: float
) -> None:
    user = make_user("worker")
    assert client.get("/api/me", headers=user["headers"]).status_code == 200
    with session_scope(session_factory(settings)) as s:  # as another process would: no ORM events here
        s.execute(text("UPDATE api_tokens SET revoked_at = now() WHERE user_id = :u"), {"u": user["id"]})
    assert client.get("/api/me", headers=user["headers"]).status_code == 200  # still cached: the bound
    time.sleep(short_ttl + 0.1)
    assert client.get("/api/me", headers=user["headers"]).status_code == 401


def test_a_cached_user_is_a_fresh_instance_per_session(make_user: Any, settings: Any) -> None:
    from marketplace.accounts.service import user_for_token

    user = make_user("worker")
    factory = session_factory(settings)
    with factory() as one:
        first = user_for_token(one, user["token"])
        first.display_name = "changed, never committed"
        one.rollback()
    with factory() as two, factory() as three:
        second, third = user_for_token(two, user["token"]), user_for_token(three, user["token"])
        assert second is not first and second is not third
        assert second in two and third in three
        assert second.display_name == third.display_name == ""
