"""Role and ownership matrix of the job endpoints."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import UserFactory, job_body


@pytest.fixture
def world(client: TestClient, make_user: UserFactory, box_dataset: dict[str, Any]) -> dict[str, Any]:
    people = {role: make_user(role) for role in ("requester", "worker", "reviewer", "admin")}
    people["other"] = make_user("requester")
    r = client.post(
        "/api/jobs",
        json=job_body(str(box_dataset["root"]), box_dataset["gt"]),
        headers=people["requester"]["headers"],
    )
    assert r.status_code == 201
    return {"people": people, "job": r.json(), "body": job_body(str(box_dataset["root"]), box_dataset["gt"])}


# (method, path, who) -> expected status
MATRIX = [
    ("GET", "/api/jobs/{id}", "requester", 200),
    ("GET", "/api/jobs/{id}", "other", 404),
    ("GET", "/api/jobs/{id}", "worker", 403),
    ("GET", "/api/jobs/{id}", "reviewer", 200),
    ("GET", "/api/jobs/{id}", "admin", 200),
    ("GET", "/api/jobs/{id}", None, 401),
    ("GET", "/api/jobs", "worker", 403),
    ("GET", "/api/jobs", None, 401),
    ("POST", "/api/jobs", "worker", 403),
    ("POST", "/api/jobs", "reviewer", 403),
    ("POST", "/api/jobs", None, 401),
    ("POST", "/api/jobs/upload", "worker", 403),
    ("POST", "/api/jobs/{id}/cancel", "other", 404),
    ("POST", "/api/jobs/{id}/cancel", "worker", 403),
    ("POST", "/api/jobs/{id}/cancel", "reviewer", 403),
    ("POST", "/api/jobs/{id}/cancel", None, 401),
    ("POST", "/api/jobs/{id}/cancel", "requester", 200),
]


@pytest.mark.parametrize(("method", "path", "who", "expected"), MATRIX)
def test_job_endpoint_matrix(
    client: TestClient, world: dict[str, Any], method: str, path: str, who: str | None, expected: int
) -> None:
    headers = world["people"][who]["headers"] if who else {}
    url = path.format(id=world["job"]["id"])
    kwargs: dict[str, Any] = {"headers": headers}
    if method == "POST" and url == "/api/jobs":
        kwargs["json"] = world["body"]
    r = client.request(method, url, **kwargs)
    assert r.status_code == expected, r.text
    if expected >= 400:
        assert r.json()["error"] and r.json()["detail"]


def test_listing_shows_only_own_jobs(client: TestClient, world: dict[str, Any]) -> None:
    people = world["people"]
    assert [j["id"] for j in client.get("/api/jobs", headers=people["requester"]["headers"]).json()] == [
        world["job"]["id"]
    ]
    assert client.get("/api/jobs", headers=people["other"]["headers"]).json() == []
    assert len(client.get("/api/jobs", headers=people["admin"]["headers"]).json()) == 1


def test_cancel_twice_is_a_conflict(client: TestClient, world: dict[str, Any]) -> None:
    headers = world["people"]["requester"]["headers"]
    url = f"/api/jobs/{world['job']['id']}/cancel"
    assert client.post(url, headers=headers).json()["status"] == "cancelled"
    r = client.post(url, headers=headers)
    assert r.status_code == 409 and "cancelled" in r.json()["detail"]
