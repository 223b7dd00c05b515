"""Submissions: validation, idempotency, scoring outcomes, re-opening, review, hooks, export."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from marketplace.assignments import scoring
from marketplace.assignments.scoring import ScoreResult
from marketplace.config import Settings
from marketplace.db import session_factory
from marketplace.models import Assignment, AssignmentItem, Chunk
from marketplace.payouts import service as payouts
from tests.assignments.conftest import JobFactory, claim, right_answers, submit
from tests.conftest import UserFactory


@pytest.fixture
def hook_calls(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[int]]:
    calls: dict[str, list[int]] = {"accepted": [], "complete": []}
    monkeypatch.setattr(payouts, "earn", lambda s, a: calls["accepted"].append(a.id))
    monkeypatch.setattr(payouts, "settle_completed", lambda s, j: calls["complete"].append(j.id))
    return calls


def _status(client: TestClient, worker: dict[str, Any], assignment_id: int) -> dict[str, Any]:
    mine = client.get("/api/assignments/mine", headers=worker["headers"]).json()
    return next(a for a in mine if a["assignment_id"] == assignment_id)


def test_accepted_submission_is_idempotent_and_a_different_one_conflicts(
    client: TestClient,
    make_job: JobFactory,
    make_user: UserFactory,
    settings: Settings,
    hook_calls: dict[str, list[int]],
) -> None:
    job = make_job(data=2, gt=2, assignment_size=2, gt_per_assignment=1)
    worker = make_user("worker")
    body = claim(client, worker, job["id"]).json()
    answers = right_answers(settings, body)
    answers["items"][0]["interactions"] = {
        "time_on_item_ms": 1234,
        "hovers": [{"enter_ms": 10, "leave_ms": 900}],
        "clicks_ms": [50, 70],
        "mouse": [[0, 1, 2], [16, 3, 4]],
    }
    r = submit(client, worker, body["assignment_id"], answers)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "submitted"
    mine = _status(client, worker, body["assignment_id"])
    assert mine["status"] == "accepted" and mine["score"] == 1.0
    again = submit(client, worker, body["assignment_id"], answers)
    assert again.status_code == 200
    assert again.json()["submitted_at"] == r.json()["submitted_at"]
    assert again.json()["status"] == "accepted"
    different = copy.deepcopy(answers)
    different["items"][0]["annotations"].append({"label": "dog", "geometry": [1, 1, 5, 5]})
    r3 = submit(client, worker, body["assignment_id"], different)
    assert r3.status_code == 409 and r3.json()["reason"] == "already_submitted"
    assert hook_calls["accepted"] == [body["assignment_id"]]
    assert hook_calls["complete"] == [job["id"]]  # the only chunk is accepted: dataset complete
    export = client.get(f"/api/jobs/{job['id']}/submissions", headers=job["requester"]["headers"]).json()
    assert len(export) == 1
    item0 = next(i for i in export[0]["items"] if i["position"] == 0)
    assert item0["interactions"]["clicks_ms"] == [50, 70] and item0["image"].startswith("img")


def test_rejection_reopens_the_chunk_until_max_attempts_then_review(
    client: TestClient,
    make_job: JobFactory,
    make_user: UserFactory,
    settings: Settings,
    hook_calls: dict[str, list[int]],
) -> None:
    job = make_job(data=2, gt=4, assignment_size=2, gt_per_assignment=1, max_attempts=2)
    workers = [make_user("worker") for _ in range(3)]
    for n, worker in enumerate(workers[:2]):
        body = claim(client, worker, job["id"]).json()
        assert (
            submit(
                client, worker, body["assignment_id"], right_answers(settings, body, gt_right=False)
            ).status_code
            == 200
        )
        assert _status(client, worker, body["assignment_id"])["status"] == "rejected"
        with session_factory(settings)() as s:
            chunk = s.scalars(select(Chunk).where(Chunk.job_id == job["id"])).one()
        assert chunk.rejected_count == n + 1
        assert chunk.status == ("open" if n == 0 else "in_review")
        # the rejected worker never gets the chunk back
        again = claim(client, worker, job["id"])
        assert again.status_code == 409 and again.json()["reason"] == "no_assignments_left"
    r = claim(client, workers[2], job["id"])
    assert r.status_code == 409 and r.json()["reason"] == "no_assignments_left"  # in review now
    progress = client.get(f"/api/jobs/{job['id']}/progress", headers=job["requester"]["headers"]).json()
    assert progress["chunks"] == {"in_review": 1} and progress["assignments"] == {"rejected": 2}
    assert hook_calls["accepted"] == [] and hook_calls["complete"] == []


def test_the_scorer_is_pluggable(
    client: TestClient, make_job: JobFactory, make_user: UserFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, Any] = {}

    class HalfScorer:
        def score(self, job: Any, gt: Any, answers: Any) -> ScoreResult:
            seen["keys"] = (set(gt), set(answers))
            return ScoreResult(0.5, True, {"why": "test"})

    scoring.set_scorer_factory(lambda job: HalfScorer())
    try:
        job = make_job(data=2, gt=2, assignment_size=2, gt_per_assignment=1)
        worker = make_user("worker")
        body = claim(client, worker, job["id"]).json()
        answers = {"items": [{"item_id": i["item_id"], "annotations": []} for i in body["items"]]}
        submit(client, worker, body["assignment_id"], answers)
    finally:
        scoring.set_scorer_factory(None)
    mine = _status(client, worker, body["assignment_id"])
    assert mine["status"] == "accepted" and mine["score"] == 0.5
    gt_keys, answer_keys = seen["keys"]
    assert len(gt_keys) == 1 and gt_keys == answer_keys


def test_progress_counts_done_images(
    client: TestClient, make_job: JobFactory, make_user: UserFactory, settings: Settings
) -> None:
    job = make_job(data=4, gt=2, assignment_size=2, gt_per_assignment=1)
    worker = make_user("worker")
    body = claim(client, worker, job["id"]).json()
    submit(client, worker, body["assignment_id"], right_answers(settings, body))
    p = client.get(f"/api/jobs/{job['id']}/progress", headers=job["requester"]["headers"]).json()
    assert p["images_total"] == 4 and p["images_done"] == 2 and p["chunks_total"] == 2
    assert p["chunks"] == {"done": 1, "open": 1} and p["assignments"] == {"accepted": 1}


def _bad(case: str, items: list[dict[str, Any]]) -> tuple[dict[str, Any], str]:
    first = items[0]["item_id"]
    body = {"items": copy.deepcopy(items)}
    if case == "missing_item":
        body["items"].pop()
        return body, items[-1]["item_id"]
    if case == "unknown_item":
        body["items"][0]["item_id"] = "not-a-real-item-id"
        return body, "not-a-real-item-id"
    if case == "duplicate_item":
        body["items"][1]["item_id"] = first
        return body, "answered twice"
    annotation = {
        "box_outside": {"label": "cat", "geometry": [50, 4, 30, 10]},
        "negative_box": {"label": "cat", "geometry": [5, 5, -3, 10]},
        "unknown_label": {"label": "bird", "geometry": [1, 1, 5, 5]},
        "point_in_box_job": {"label": "cat", "geometry": [1, 1]},
        "no_geometry": {"label": "cat"},
    }[case]
    body["items"][0]["annotations"] = [annotation]
    return body, first


BAD_CASES = [
    "missing_item",
    "unknown_item",
    "duplicate_item",
    "box_outside",
    "negative_box",
    "unknown_label",
    "point_in_box_job",
    "no_geometry",
]


@pytest.mark.parametrize("case", BAD_CASES)
def test_invalid_submissions_name_the_item(
    case: str, client: TestClient, make_job: JobFactory, make_user: UserFactory, settings: Settings
) -> None:
    job = make_job(data=2, gt=2, assignment_size=2, gt_per_assignment=1)
    worker = make_user("worker")
    body = claim(client, worker, job["id"]).json()
    empty = [{"item_id": i["item_id"], "annotations": []} for i in body["items"]]
    bad, named = _bad(case, empty)
    r = submit(client, worker, body["assignment_id"], bad)
    assert r.status_code == 422, r.text
    assert named in r.json()["detail"]
    with session_factory(settings)() as s:
        assignment = s.get(Assignment, body["assignment_id"])
        assert assignment is not None and assignment.status == "assigned"
        assert all(i.answer is None for i in s.scalars(select(AssignmentItem)))
    assert submit(client, worker, body["assignment_id"], {"items": empty}).status_code == 200


def test_shape_checks_for_points_and_classification(
    client: TestClient, make_user: UserFactory, settings: Settings, data_root: Any
) -> None:
    from tests.conftest import job_body, write_image

    for name in ("a0.png", "a1.png", "a2.png"):
        write_image(data_root / name)
    requester = make_user("requester")
    gt = {
        "images": [{"id": 1, "file_name": "a2.png"}],
        "categories": [{"id": 1, "name": "yes"}, {"id": 2, "name": "no"}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1}],
    }
    r = client.post(
        "/api/jobs",
        json=job_body(str(data_root), gt, type="classification", labels=["yes", "no"], bounty_amount=100_000),
        headers=requester["headers"],
    )
    assert r.status_code == 201, r.text
    from tests.assignments.conftest import activate_job_now

    activate_job_now(settings, r.json()["id"])
    worker = make_user("worker")
    body = claim(client, worker, r.json()["id"]).json()
    items = [{"item_id": i["item_id"], "annotations": [{"label": "yes"}]} for i in body["items"]]
    bad = copy.deepcopy(items)
    bad[1]["annotations"] = [{"label": "yes", "geometry": [1, 2]}]
    r2 = submit(client, worker, body["assignment_id"], {"items": bad})
    assert r2.status_code == 422 and items[1]["item_id"] in r2.json()["detail"]
    bad[1]["annotations"] = [{"label": "yes"}, {"label": "yes"}]
    assert submit(client, worker, body["assignment_id"], {"items": bad}).status_code == 422
    ok = submit(client, worker, body["assignment_id"], {"items": items})
    assert ok.status_code == 200
    assert _status(client, worker, body["assignment_id"])["status"] == "accepted"
