"""Owners list, expire and revoke their own API tokens; the secret is never shown again (issue 11)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import auth


def test_list_create_with_expiry_and_revoke(client: TestClient, make_user: Any) -> None:
    user = make_user("requester")
    made = client.post(
        "/api/auth/tokens", json={"name": "nightly export", "ttl_days": 2}, headers=user["headers"]
    )
    assert made.status_code == 201, made.text
    script = made.json()
    expires = datetime.fromisoformat(script["expires_at"])
    assert timedelta(days=1, hours=23) < expires - datetime.now(UTC) <= timedelta(days=2)
    assert isinstance(script["id"], int)

    listed = client.get("/api/auth/tokens", headers=user["headers"])
    assert listed.status_code == 200, listed.text
    rows = listed.json()
    assert {r["name"] for r in rows} == {"test", "nightly export"}
    assert script["token"] not in listed.text and user["token"] not in listed.text
    assert all("token" not in r and "token_hash" not in r for r in rows)
    mine = {r["name"]: r for r in rows}
    assert mine["test"]["current"] is True and mine["nightly export"]["current"] is False
    assert mine["nightly export"]["active"] is True and mine["nightly export"]["revoked_at"] is None

    assert client.get("/api/me", headers=auth(script["token"])).status_code == 200
    r = client.delete(f"/api/auth/tokens/{script['id']}", headers=user["headers"])
    assert r.status_code == 204
    assert client.get("/api/me", headers=auth(script["token"])).status_code == 401
    row = next(
        r for r in client.get("/api/auth/tokens", headers=user["headers"]).json() if r["id"] == script["id"]
    )
    assert row["active"] is False and row["revoked_at"] is not None
    # revoking again changes nothing
    assert client.delete(f"/api/auth/tokens/{script['id']}", headers=user["headers"]).status_code == 204


def test_tokens_are_private_to_their_owner(client: TestClient, make_user: Any) -> None:
    alice, bob = make_user("requester"), make_user("worker")
    bobs = client.post("/api/auth/tokens", json={"name": "bob's script"}, headers=bob["headers"]).json()
    assert "bob's script" not in client.get("/api/auth/tokens", headers=alice["headers"]).text
    r = client.delete(f"/api/auth/tokens/{bobs['id']}", headers=alice["headers"])
    assert r.status_code == 404
    assert client.get("/api/me", headers=auth(bobs["token"])).status_code == 200


def test_expired_tokens_stop_working(client: TestClient, make_user: Any, settings: Any) -> None:
    from sqlalchemy import update

    from marketplace.db import session_factory, session_scope
    from marketplace.models import ApiToken

    user = make_user("worker")
    made = client.post(
        "/api/auth/tokens", json={"name": "short", "ttl_days": 1}, headers=user["headers"]
    ).json()
    with session_scope(session_factory(settings)) as s:
        s.execute(
            update(ApiToken)
            .where(ApiToken.id == made["id"])
            .values(expires_at=datetime.now(UTC) - timedelta(1))
        )
    assert client.get("/api/me", headers=auth(made["token"])).status_code == 401
    row = next(
        r for r in client.get("/api/auth/tokens", headers=user["headers"]).json() if r["id"] == made["id"]
    )
    assert row["active"] is False
