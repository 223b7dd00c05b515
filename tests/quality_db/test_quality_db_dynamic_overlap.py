"""Dynamic overlap on PostgreSQL: an uncertain image goes to one more worker before any reviewer, the
job completes only after that answer, and an image still uncertain at the cap goes to reviewers."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from marketplace.config import Settings
from marketplace.db import session_factory
from marketplace.models import (
    Assignment,
    AssignmentItem,
    AssignmentStatus,
    Chunk,
    Dispute,
    Job,
    JobStatus,
    WorkerAgreement,
)
from tests.conftest import UserFactory
from tests.quality_db.conftest import QualityJobFactory, answer_all, claim_ok, item_truth, submit_ok

LABELS = ["yes", "no"]
SIZE = 2


def _job(quality_job: QualityJobFactory, **overrides: Any) -> dict[str, Any]:
    return quality_job(
        "classification",
        data=8,
        gt=10,
        labels=LABELS,
        gt_label=lambda i: LABELS[i % 2],  # a balanced GT: the prior leans nowhere
        assignment_size=SIZE,
        gt_per_assignment=1,
        gt_spot_check=1.0,
        **overrides,
    )


def _do(
    client: TestClient, settings: Settings, worker: dict[str, Any], job_id: int, label: Any = "yes"
) -> list[int]:
    """Claim and submit one assignment (GT right); returns its work image ids."""
    body = claim_ok(client, worker, job_id)
    truth = item_truth(settings, [i["item_id"] for i in body["items"]])
    answer = label if callable(label) else (lambda _token: [{"label": label}])
    submit_ok(client, worker, body["assignment_id"], answer_all(settings, body, on_data=answer))
    return [image for is_gt, image, _ in truth.values() if not is_gt]


def _job_row(settings: Settings, job_id: int) -> Job:
    with session_factory(settings)() as s:
        job = s.get(Job, job_id)
        assert job is not None
        return job


def _answers_per_image(settings: Settings, job_id: int) -> dict[int, int]:
    with session_factory(settings)() as s:
        rows = s.execute(
            select(AssignmentItem.image_id, func.count())
            .join(Assignment, Assignment.id == AssignmentItem.assignment_id)
            .where(
                Assignment.job_id == job_id,
                Assignment.status == AssignmentStatus.accepted,
                AssignmentItem.is_gt.is_(False),
            )
            .group_by(AssignmentItem.image_id)
        ).all()
    return {int(i): int(n) for i, n in rows}


def _agreement(settings: Settings, job_id: int) -> dict[int, tuple[int, int]]:
    with session_factory(settings)() as s:
        rows = s.scalars(select(WorkerAgreement).where(WorkerAgreement.job_id == job_id)).all()
    return {r.worker_id: (r.agreed, r.compared) for r in rows}


def test_an_uncertain_image_gets_one_more_worker_before_the_job_completes(
    client: TestClient, quality_job: QualityJobFactory, make_user: UserFactory, settings: Settings
) -> None:
    job = _job(quality_job, overlap=1, max_overlap=2, confidence_threshold=0.95)
    first, second = make_user("worker"), make_user("worker")
    seen_first = [image for _ in range(4) for image in _do(client, settings, first, job["id"])]
    # one answer from a worker seen on a few GT items is not 95% certain: every image waits for another
    r = client.post(f"/api/jobs/{job['id']}/assignments/claim", headers=first["headers"])
    assert r.status_code == 409 and r.json()["reason"] == "no_assignments_left", r.text  # not theirs to redo
    assert _job_row(settings, job["id"]).status is JobStatus.active  # not complete: answers are missing
    with session_factory(settings)() as s:
        extra = s.scalars(select(Chunk).where(Chunk.job_id == job["id"], Chunk.overlap == 1)).all()
    assert len(extra) == 4
    seen_second = [image for _ in range(4) for image in _do(client, settings, second, job["id"])]
    assert sorted(seen_second) == sorted(seen_first)
    assert _answers_per_image(settings, job["id"]) == {i: 2 for i in seen_first}  # the cap: no third
    assert _job_row(settings, job["id"]).status is JobStatus.completed
    # each settled image checked each answer against the other's when that one was sure enough (90%).
    # Four GT items right put a worker at about 0.89-0.9 by the GT labels drawn, so the first chunk to
    # settle may leave an answer unchecked (a clean-clone run saw the second's first two); every check
    # agrees, and raises the record, so from the next chunk on both are sure
    agreement = _agreement(settings, job["id"])
    assert agreement[second["id"]] in {(6, 6), (8, 8)}
    assert agreement[first["id"]] in {(6, 6), (8, 8)}
    # the requester sees what went where: 4 normal + 4 extra assignments, one GT slot in each
    r = client.get(f"/api/jobs/{job['id']}/costs", headers=job["requester"]["headers"])
    assert r.status_code == 200, r.text
    costs = r.json()
    pay = int(costs["pay_per_assignment"])
    assert costs["actual"] | {"paid": int(costs["actual"]["paid"])} == costs["actual"] | {
        "assignments": 4,
        "extra_overlap_assignments": 4,
        "paid": 8 * pay,
        "gt_items": 8,
        "work_items": 16,
        "extra_overlap_cost": str(4 * pay),
        "reviews": 0,
    }
    assert costs["actual"]["gt_share"] == pytest.approx(1 / 3, abs=1e-4)
    assert int(costs["expected"]["work"]) == int(costs["expected"]["extra_overlap_reserve"]) == 4 * pay
    assert costs["expected"]["gt_share_most"] == pytest.approx(1 / 3, abs=1e-4)
    assert client.get(f"/api/jobs/{job['id']}/costs", headers=first["headers"]).status_code == 403
    stranger = make_user("requester")
    assert client.get(f"/api/jobs/{job['id']}/costs", headers=stranger["headers"]).status_code == 404


def test_only_an_image_still_uncertain_at_the_cap_goes_to_reviewers(
    client: TestClient, quality_job: QualityJobFactory, make_user: UserFactory, settings: Settings
) -> None:
    job = _job(quality_job, overlap=1, max_overlap=2, confidence_threshold=0.95)
    first, second = make_user("worker"), make_user("worker")
    for _ in range(4):
        _do(client, settings, first, job["id"], "yes")
    disagree: set[int] = set()

    def half_no(token: str) -> list[dict[str, Any]]:
        image = item_truth(settings, [token])[token][1]
        if image % 2:
            disagree.add(image)
            return [{"label": "no"}]
        return [{"label": "yes"}]

    # the images still uncertain after the first's chunks went to one more worker: three or four chunks,
    # by the GT labels drawn (the first's estimate after four GT items may reach the 95% already)
    extra = 0
    while _job_row(settings, job["id"]).status is not JobStatus.completed and extra < 8:
        _do(client, settings, second, job["id"], half_no)
        extra += 1
    assert _job_row(settings, job["id"]).status is JobStatus.completed and extra >= 1
    listing = client.get(f"/api/jobs/{job['id']}/results", headers=job["requester"]["headers"])
    assert listing.status_code == 200, listing.text  # the export (and its review queue) is made
    with session_factory(settings)() as s:
        disputes = s.scalars(
            select(Dispute).where(Dispute.job_id == job["id"], Dispute.kind == "low_agreement")
        ).all()
    assert disagree and {d.image_id for d in disputes} == disagree
    # an answer is checked only against a sure other answer, so a miss is always on an image they disagreed
    # on, and the second's first miss is certain: until then the first (four GT items right, no miss yet)
    # is sure, as in the test above; after it each distrusts the other more, so later checks may not happen
    agreement = _agreement(settings, job["id"])
    for worker in (first, second):
        agreed, compared = agreement.get(worker["id"], (0, 0))
        assert agreed <= 8 - len(disagree) and compared - agreed <= len(disagree)
    agreed, compared = agreement[second["id"]]
    assert compared - agreed >= 1


def test_no_extra_worker_when_the_answers_are_certain_enough(
    client: TestClient, quality_job: QualityJobFactory, make_user: UserFactory, settings: Settings
) -> None:
    job = _job(quality_job, overlap=1, max_overlap=3, confidence_threshold=0.55)
    worker = make_user("worker")
    for _ in range(4):
        _do(client, settings, worker, job["id"])
    assert _job_row(settings, job["id"]).status is JobStatus.completed
    assert set(_answers_per_image(settings, job["id"]).values()) == {1}


def test_dynamic_overlap_is_refused_where_it_does_not_apply(
    client: TestClient, make_user: UserFactory, data_root: Any
) -> None:
    from tests.conftest import job_body

    requester = make_user("requester")
    coco = {"images": [], "annotations": [], "categories": [{"id": 1, "name": "cat"}]}
    cases = [
        ({"type": "points", "max_overlap": 3}, "classification and box jobs"),
        ({"type": "classification", "labels": LABELS, "overlap": 3, "max_overlap": 2}, "at least overlap"),
        ({"type": "classification", "labels": LABELS, "confidence_threshold": 1.0}, "confidence_threshold"),
    ]
    for overrides, message in cases:
        r = client.post(
            "/api/jobs", json=job_body(str(data_root), coco, **overrides), headers=requester["headers"]
        )
        assert r.status_code == 422, r.text
        assert message in r.text


def test_a_box_only_one_worker_drew_gets_a_second_worker(
    client: TestClient, quality_job: QualityJobFactory, make_user: UserFactory, settings: Settings
) -> None:
    job = quality_job(
        "boxes", data=4, gt=10, assignment_size=SIZE, gt_per_assignment=1, gt_spot_check=1.0, max_overlap=2
    )
    first, second = make_user("worker"), make_user("worker")
    drawn: set[int] = set()

    def some_boxes(token: str) -> list[dict[str, Any]]:
        image = item_truth(settings, [token])[token][1]
        if image % 2:
            return []  # nothing to draw here: one worker saying so is enough
        drawn.add(image)
        return [{"label": "cat", "geometry": [4.0, 4.0, 20.0, 20.0]}]

    for _ in range(2):
        _do(client, settings, first, job["id"], some_boxes)
    assert _job_row(settings, job["id"]).status is JobStatus.active
    again = _do(client, settings, second, job["id"], some_boxes)
    assert sorted(again) == sorted(drawn) and len(drawn) == 2
    assert _job_row(settings, job["id"]).status is JobStatus.completed
    counts = _answers_per_image(settings, job["id"])
    assert {i: n for i, n in counts.items() if n == 2} == {i: 2 for i in drawn}
