"""Who may call what: every assignment endpoint against worker / requester / other requester /
reviewer / admin / nobody."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from marketplace.config import Settings
from tests.assignments.conftest import JobFactory, claim, right_answers
from tests.conftest import UserFactory


def test_role_and_ownership_matrix(
    client: TestClient, make_job: JobFactory, make_user: UserFactory, settings: Settings
) -> None:
    job = make_job(data=8, gt=2, assignment_size=2, gt_per_assignment=1)
    jid = job["id"]
    worker, other_worker = make_user("worker"), make_user("worker")
    users: dict[str, dict[str, str]] = {
        "worker": worker["headers"],
        "other_worker": other_worker["headers"],
        "owner": job["requester"]["headers"],
        "other_requester": make_user("requester")["headers"],
        "reviewer": make_user("reviewer")["headers"],
        "admin": make_user("admin")["headers"],
        "anonymous": {},
    }
    mine = claim(client, worker, jid).json()
    aid = mine["assignment_id"]
    answers = right_answers(settings, mine)

    def call(method: str, url: str, who: str, body: Any = None) -> int:
        return client.request(method, url, headers=users[who], json=body).status_code

    staff_forbidden = {"owner": 403, "other_requester": 403, "reviewer": 403, "admin": 403, "anonymous": 401}
    expected: list[tuple[str, str, Any, dict[str, int]]] = [
        ("GET", "/api/work/jobs", None, {"worker": 200, "other_worker": 200, **staff_forbidden}),
        ("GET", "/api/assignments/mine", None, {"worker": 200, "other_worker": 200, **staff_forbidden}),
        ("GET", f"/api/assignments/{aid}", None, {"worker": 200, "other_worker": 404, **staff_forbidden}),
        (
            "POST",
            f"/api/assignments/{aid}/submit",
            answers,
            {"other_worker": 404, **staff_forbidden, "worker": 200},
        ),
        ("POST", f"/api/jobs/{jid}/assignments/claim", None, {"other_worker": 200, **staff_forbidden}),
        ("POST", "/api/assignments/claim", None, {"worker": 200, **staff_forbidden}),
        (
            "GET",
            f"/api/jobs/{jid}/progress",
            None,
            {
                "owner": 200,
                "other_requester": 404,
                "reviewer": 200,
                "admin": 200,
                "worker": 403,
                "anonymous": 401,
            },
        ),
        (
            "GET",
            f"/api/jobs/{jid}/submissions",
            None,
            {
                "owner": 200,
                "other_requester": 404,
                "reviewer": 200,
                "admin": 200,
                "worker": 403,
                "anonymous": 401,
            },
        ),
        ("GET", "/api/jobs/999999/progress", None, {"owner": 404, "admin": 404}),
    ]
    problems = []
    for method, url, body, by_role in expected:
        for who, status in by_role.items():
            got = call(method, url, who, body)
            if got != status:
                problems.append(f"{who} {method} {url}: {got}, expected {status}")
    assert problems == []
