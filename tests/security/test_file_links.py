"""Issue 11 (low): image links stayed valid for anyone after the assignment was submitted. A worker's
image link now lives exactly as long as the assignment can be worked on; reviewers' images need a
reviewer's credentials. The file handler sends one header set for every file (no file-system
``Last-Modified``/``ETag``, which told GT files copied in at another time apart: issue 12)."""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from fastapi.testclient import TestClient
from sqlalchemy import update

from marketplace.config import Settings
from marketplace.db import session_factory, session_scope
from marketplace.models import Assignment, utcnow
from tests.assignments.conftest import JobFactory, right_answers
from tests.conftest import UserFactory


def _claim(client: TestClient, worker: dict[str, Any], job_id: int) -> dict[str, Any]:
    r = client.post(f"/api/jobs/{job_id}/assignments/claim", headers=worker["headers"])
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _paths(claim: dict[str, Any]) -> list[str]:
    return [urlsplit(item["image_url"]).path for item in claim["items"]]


def test_links_die_when_the_assignment_is_submitted(
    client: TestClient, make_job: JobFactory, make_user: UserFactory, settings: Settings
) -> None:
    job = make_job(data=4, gt=2, assignment_size=2, gt_per_assignment=1)
    worker = make_user("worker")
    claim = _claim(client, worker, job["id"])
    paths = _paths(claim)
    assert all(client.get(p).status_code == 200 for p in paths)
    r = client.post(
        f"/api/assignments/{claim['assignment_id']}/submit",
        json=right_answers(settings, claim),
        headers=worker["headers"],
    )
    assert r.status_code == 200, r.text
    assert [client.get(p).status_code for p in paths] == [404] * len(paths)


def test_links_die_when_the_assignment_expires(
    client: TestClient, make_job: JobFactory, make_user: UserFactory, settings: Settings
) -> None:
    job = make_job(data=4, gt=2, assignment_size=2, gt_per_assignment=1)
    claim = _claim(client, make_user("worker"), job["id"])
    with session_scope(session_factory(settings)) as s:
        s.execute(
            update(Assignment)
            .where(Assignment.id == claim["assignment_id"])
            .values(deadline=utcnow() - timedelta(seconds=1))
        )
    assert [client.get(p).status_code for p in _paths(claim)] == [404] * len(claim["items"])


def test_every_file_gets_the_same_header_set(
    client: TestClient, make_job: JobFactory, make_user: UserFactory
) -> None:
    job = make_job(data=4, gt=2, assignment_size=2, gt_per_assignment=1)
    for name in job["gt_names"]:  # the GT set was copied in a year earlier than the data
        os.utime(job["root"] / name, (1_600_000_000, 1_600_000_000))
    claim = _claim(client, make_user("worker"), job["id"])
    seen = []
    for path in _paths(claim):
        r = client.get(path)
        assert r.status_code == 200
        assert "last-modified" not in r.headers and "etag" not in r.headers
        # date, size and the request id (random per response) vary for every file alike
        varying = ("content-length", "date", "x-request-id")
        seen.append(sorted((k, v) for k, v in r.headers.items() if k not in varying))
    assert all(h == seen[0] for h in seen), seen


def test_review_images_need_a_reviewer(
    client: TestClient, make_job: JobFactory, make_user: UserFactory, settings: Settings
) -> None:
    job = make_job(data=2, gt=2, assignment_size=2, gt_per_assignment=1)
    worker, reviewer = make_user("worker"), make_user("reviewer")
    claim = _claim(client, worker, job["id"])
    answers = right_answers(settings, claim, gt_right=False)
    client.post(f"/api/assignments/{claim['assignment_id']}/submit", json=answers, headers=worker["headers"])
    appeal = f"/api/assignments/{claim['assignment_id']}/appeal"
    r = client.post(appeal, json={"comment": "fair"}, headers=worker["headers"])
    assert r.status_code == 201, r.text
    detail = client.get(f"/api/reviews/disputes/{r.json()['id']}", headers=reviewer["headers"]).json()
    url = urlsplit(detail["context"]["assignment"]["items"][0]["image_url"]).path
    assert client.get(url, headers=reviewer["headers"]).status_code == 200
    assert client.get(url).status_code == 401
    assert client.get(url, headers=worker["headers"]).status_code == 403
