from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import UserFactory, auth


def test_register_login_and_me(client: TestClient) -> None:
    r = client.post(
        "/api/auth/register",
        json={"email": "Ann@Example.org", "password": "long enough pw", "role": "requester"},
    )
    assert r.status_code == 201, r.text
    assert r.json()["email"] == "ann@example.org"
    assert "password" not in r.text

    r = client.post("/api/auth/login", json={"email": "ann@example.org", "password": "long enough pw"})
    assert r.status_code == 200
    token = r.json()["token"]
    me = client.get("/api/me", headers=auth(token)).json()
    assert me["role"] == "requester"


def test_duplicate_email_is_a_conflict(client: TestClient) -> None:
    body = {"email": "bo@example.org", "password": "long enough pw", "role": "worker"}
    assert client.post("/api/auth/register", json=body).status_code == 201
    r = client.post("/api/auth/register", json=body)
    assert r.status_code == 409
    assert r.json()["error"] == "conflict"


def test_wrong_password_and_unknown_email_look_the_same(client: TestClient) -> None:
    client.post(
        "/api/auth/register", json={"email": "c@example.org", "password": "long enough pw", "role": "worker"}
    )
    wrong = client.post("/api/auth/login", json={"email": "c@example.org", "password": "nope nope"})
    unknown = client.post("/api/auth/login", json={"email": "zz@example.org", "password": "nope nope"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()


def test_privileged_roles_cannot_self_register(client: TestClient) -> None:
    for role in ("reviewer", "admin"):
        r = client.post(
            "/api/auth/register",
            json={"email": f"{role}@example.org", "password": "long enough pw", "role": role},
        )
        assert r.status_code == 403
        assert r.json()["field"] == "role"


def test_admin_creates_reviewer(client: TestClient, make_user: UserFactory) -> None:
    admin = make_user("admin")
    body = {"email": "rev@example.org", "password": "long enough pw", "role": "reviewer"}
    r = client.post("/api/admin/users", json=body, headers=admin["headers"])
    assert r.status_code == 201
    assert r.json()["role"] == "reviewer"
    requester = make_user("requester")
    assert client.post("/api/admin/users", json=body, headers=requester["headers"]).status_code == 403


def test_script_tokens_and_revocation(client: TestClient, make_user: UserFactory) -> None:
    user = make_user("worker")
    r = client.post("/api/auth/tokens", json={"name": "ci"}, headers=user["headers"])
    assert r.status_code == 201
    token = r.json()["token"]
    assert client.get("/api/me", headers=auth(token)).status_code == 200
    assert client.get("/api/me", headers=auth("tw_forged")).status_code == 401
    assert client.get("/api/me").status_code == 401


def test_bad_input_is_422_with_detail(client: TestClient) -> None:
    r = client.post("/api/auth/register", json={"email": "not-an-email", "password": "x", "role": "worker"})
    assert r.status_code == 422
    body = r.json()
    assert body["error"] == "invalid_input"
    assert "email" in body["detail"] and "password" in body["detail"]
