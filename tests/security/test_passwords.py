"""Weak passwords are refused: a length floor, a list of common passwords, and nothing built from the
email address (issue 11, low items)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from marketplace.accounts import service
from marketplace.config import Settings
from marketplace.db import session_factory, session_scope
from marketplace.errors import InvalidInput
from marketplace.models import Role


@pytest.mark.parametrize(
    "password",
    [
        "password",
        "Password123",
        "123456789",
        "qwertyuiop",
        "iloveyou!",
        "letmein2024",
        "P@ssw0rd",
        "aaaaaaaaaaaa",
        "1234567890",
        "dana.smith",  # the email's local part
        "short",  # below the floor
    ],
)
def test_weak_passwords_are_refused(client: TestClient, password: str) -> None:
    r = client.post(
        "/api/auth/register",
        json={"email": "dana.smith@example.org", "password": password, "role": "worker"},
    )
    assert r.status_code == 422, (password, r.text)
    assert r.json()["error"] == "invalid_input"
    assert "password" in r.text


def test_good_passwords_are_accepted(client: TestClient) -> None:
    for i, password in enumerate(["correct horse 1", "tiles and boxes at dawn", "Kx9#mP2vLq"]):
        r = client.post(
            "/api/auth/register",
            json={"email": f"ok{i}@example.org", "password": password, "role": "worker"},
        )
        assert r.status_code == 201, (password, r.text)


def test_every_path_applies_the_policy(settings: Settings, client: TestClient) -> None:
    """The command line and admins create accounts through the same service."""
    with pytest.raises(InvalidInput) as caught, session_scope(session_factory(settings)) as session:
        service.register(session, email="ops@example.org", password="password1", role=Role.admin)
    assert caught.value.field == "password"
    client.get("/signup")
    page = client.post(
        "/signup",
        data={
            "email": "web@example.org",
            "password": "iloveyou1",
            "role": "worker",
            "csrf_token": client.cookies["tw_csrf"],
        },
        headers={"Origin": "http://testserver"},
    )
    assert page.status_code == 422 and "too common" in page.text
