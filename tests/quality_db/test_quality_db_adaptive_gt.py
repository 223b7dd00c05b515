"""Adaptive GT on PostgreSQL: a trusted worker sees fewer GT items, a worker who turns bad is still banned,
and an assignment's length never tells how many GT items it holds."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from marketplace.config import Settings
from marketplace.db import session_factory
from marketplace.models import ChunkImage, WorkerJobQuality
from tests.conftest import UserFactory
from tests.quality_db.conftest import QualityJobFactory, answer_all, claim_ok, item_truth, submit_ok

SLOTS = 2  # GT slots per assignment
SIZE = 2  # work items per assignment


def _yes(_: Any) -> list[dict[str, Any]]:
    return [{"label": "yes"}]


def _wrong(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"label": "no" if o["label"] == "yes" else "yes"} for o in objects]


def _work(
    client: TestClient, settings: Settings, worker: dict[str, Any], job_id: int, *, honest: bool = True
) -> tuple[int, list[int], int]:
    """Claim and submit one assignment; returns (GT items in it, its work image ids, its length)."""
    body = claim_ok(client, worker, job_id)
    truth = item_truth(settings, [i["item_id"] for i in body["items"]])
    submit_ok(
        client,
        worker,
        body["assignment_id"],
        answer_all(settings, body, on_gt=None if honest else _wrong, on_data=_yes),
    )
    work = [image for is_gt, image, _ in truth.values() if not is_gt]
    return sum(t[0] for t in truth.values()), work, len(body["items"])


def _record(settings: Settings, job_id: int, worker_id: int) -> WorkerJobQuality:
    with session_factory(settings)() as s:
        return s.scalars(
            select(WorkerJobQuality).where(
                WorkerJobQuality.job_id == job_id, WorkerJobQuality.worker_id == worker_id
            )
        ).one()


def test_a_good_workers_gt_share_falls_once_the_sprt_trusts_them_and_the_length_stays(
    client: TestClient, quality_job: QualityJobFactory, make_user: UserFactory, settings: Settings
) -> None:
    job = quality_job(
        "classification", data=160, gt=20, assignment_size=SIZE, gt_per_assignment=SLOTS, gt_spot_check=0.25
    )
    trusted, other = make_user("worker"), make_user("worker")
    gt_counts: list[int] = []
    seen: list[int] = []
    for _ in range(30):
        _work(client, settings, other, job["id"])  # finishes chunks whose images the trusted one never saw
        gt, images, length = _work(client, settings, trusted, job["id"])
        assert length == SIZE + SLOTS  # always: the length says nothing about the GT inside
        gt_counts.append(gt)
        seen += images
    assert gt_counts[0] == SLOTS  # new: every slot is GT
    record = _record(settings, job["id"], trusted["id"])
    assert record.sprt_decision == "pass" and record.gt_keep == pytest.approx(0.25)
    later = gt_counts[10:]
    assert sum(later) / len(later) <= 1.0, gt_counts  # expected 0.5 GT items per assignment
    assert min(later) < SLOTS
    assert len(seen) == len(set(seen)), "a worker was shown the same work image twice"
    with session_factory(settings)() as s:
        work_images = set(s.scalars(select(ChunkImage.image_id)))
    assert set(seen) <= work_images
    # the freed slots carried real work: more work answers than the chunks alone hold
    assert len(seen) > 30 * SIZE


def test_a_trusted_worker_who_turns_bad_is_still_banned(
    client: TestClient, quality_job: QualityJobFactory, make_user: UserFactory, settings: Settings
) -> None:
    job = quality_job(
        "classification",
        data=600,
        gt=20,
        assignment_size=SIZE,
        gt_per_assignment=SLOTS,
        gt_spot_check=0.25,
        max_attempts=50,
    )
    worker, other = make_user("worker"), make_user("worker")
    for _ in range(40):
        _work(client, settings, other, job["id"])
        _work(client, settings, worker, job["id"])
        if _record(settings, job["id"], worker["id"]).sprt_decision == "pass":
            break
    assert _record(settings, job["id"], worker["id"]).sprt_decision == "pass"
    bad_assignments = 0
    for _ in range(120):
        _work(client, settings, other, job["id"])
        r = client.post(f"/api/jobs/{job['id']}/assignments/claim", headers=worker["headers"])
        if r.status_code == 409:
            assert r.json()["reason"] == "banned", r.text
            break
        body = r.json()
        submit_ok(
            client, worker, body["assignment_id"], answer_all(settings, body, on_gt=_wrong, on_data=_yes)
        )
    else:
        raise AssertionError("a worker who failed every GT item after being trusted was never banned")
    record = _record(settings, job["id"], worker["id"])
    assert record.sprt_decision == "ban"
    print(f"banned after {bad_assignments} bad assignments ({record.gt_items} GT items in all)")


def test_fixed_gt_is_kept_when_the_requester_asks_for_it(
    client: TestClient, quality_job: QualityJobFactory, make_user: UserFactory, settings: Settings
) -> None:
    job = quality_job(
        "classification", data=80, gt=20, assignment_size=SIZE, gt_per_assignment=SLOTS, gt_spot_check=1.0
    )
    worker, other = make_user("worker"), make_user("worker")
    counts = []
    for _ in range(12):
        _work(client, settings, other, job["id"])
        counts.append(_work(client, settings, worker, job["id"])[0])
    assert _record(settings, job["id"], worker["id"]).sprt_decision == "pass"
    assert counts == [SLOTS] * 12


def test_a_worker_known_good_on_a_sharing_job_starts_with_less_gt(
    client: TestClient, quality_job: QualityJobFactory, make_user: UserFactory, settings: Settings
) -> None:
    shared = quality_job("classification", data=40, gt=20, assignment_size=SIZE, share_reliability=True)
    private = quality_job("classification", data=40, gt=20, assignment_size=SIZE, share_reliability=False)
    veteran, secretive, newcomer = make_user("worker"), make_user("worker"), make_user("worker")
    for _ in range(10):
        _work(client, settings, veteran, shared["id"])
        _work(client, settings, secretive, private["id"])
    fresh = quality_job("classification", data=40, gt=20, assignment_size=SIZE, gt_per_assignment=SLOTS)
    for worker in (veteran, secretive, newcomer):
        assert _work(client, settings, worker, fresh["id"])[0] == SLOTS  # the first assignment: full GT
    known = _record(settings, fresh["id"], veteran["id"])
    unknown = _record(settings, fresh["id"], newcomer["id"])
    hidden = _record(settings, fresh["id"], secretive["id"])
    assert known.prior_accuracy is not None and known.prior_accuracy > 0.9
    assert known.gt_keep == pytest.approx(0.15)  # at the spot-check rate after one assignment
    assert unknown.prior_accuracy is None and unknown.gt_keep > 0.3
    # a job whose requester did not consent tells other jobs nothing
    assert hidden.prior_accuracy is None and hidden.gt_keep == unknown.gt_keep
