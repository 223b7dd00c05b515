"""Wald's SPRT stops a spammer early: the ban is written and the assignment server issues nothing more."""

from __future__ import annotations

import random
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from marketplace.config import Settings
from marketplace.db import session_factory
from marketplace.models import Dispute, JobWorkerBan, WorkerJobQuality
from tests.conftest import UserFactory
from tests.quality_db.conftest import QualityJobFactory, answer_all, claim_ok, submit_ok

MAX_GT_ITEMS = 100  # a 50% spammer is expected to be stopped after ~15 (target 0.8, floor 0.6)


def _record(settings: Settings, worker_id: int) -> WorkerJobQuality:
    with session_factory(settings)() as s:
        return s.scalars(select(WorkerJobQuality).where(WorkerJobQuality.worker_id == worker_id)).one()


def test_a_random_spammer_is_banned_within_a_few_dozen_gt_items(
    client: TestClient, quality_job: QualityJobFactory, make_user: UserFactory, settings: Settings
) -> None:
    labels = ["yes", "no"]
    job = quality_job(
        "classification",
        data=60,
        gt=60,
        assignment_size=1,
        gt_per_assignment=2,
        gt_label=lambda i: labels[i % 2],
        max_attempts=50,
    )
    spammer, good = make_user("worker"), make_user("worker")
    rng = random.Random(20261122)

    def random_label(_: Any) -> list[dict[str, Any]]:
        return [{"label": rng.choice(labels)}]

    gt_items = 0
    paid_assignments = 0
    while True:
        r = client.post(f"/api/jobs/{job['id']}/assignments/claim", headers=spammer["headers"])
        if r.status_code == 409:
            assert r.json()["reason"] == "banned", r.text
            break
        body = r.json()
        submit_ok(
            client, spammer, body["assignment_id"], answer_all(settings, body, random_label, random_label)
        )
        gt_items += 2
        status = client.get(f"/api/assignments/{body['assignment_id']}/quality", headers=spammer["headers"])
        paid_assignments += status.json()["status"] == "accepted"
        assert gt_items <= MAX_GT_ITEMS, "the spammer was never stopped"
    record = _record(settings, spammer["id"])
    assert record.sprt_decision == "ban" and record.gt_items == gt_items and record.banned_at is not None
    assert record.gt_passed / record.gt_items < 0.8
    print(f"spammer stopped after {gt_items} GT items, {paid_assignments} accepted assignments")
    with session_factory(settings)() as s:
        ban = s.scalars(select(JobWorkerBan).where(JobWorkerBan.worker_id == spammer["id"])).one()
        assert ban.job_id == job["id"] and ban.reason.startswith("sprt")
    # the job board hides the job from the banned worker; a good worker keeps working
    board = client.get("/api/work/jobs", headers=spammer["headers"]).json()
    assert job["id"] not in [j["job_id"] for j in board]
    for _ in range(10):
        body = claim_ok(client, good, job["id"])
        submit_ok(
            client,
            good,
            body["assignment_id"],
            answer_all(settings, body, on_data=lambda t: [{"label": "yes"}]),
        )
    assert _record(settings, good["id"]).sprt_decision in ("continue", "pass")


def test_implausibly_fast_work_opens_one_too_fast_dispute_per_worker(
    client: TestClient, quality_job: QualityJobFactory, make_user: UserFactory, settings: Settings
) -> None:
    job = quality_job("boxes", data=6, gt=4, assignment_size=2, gt_per_assignment=1)
    worker = make_user("worker")
    ids = []
    for _ in range(2):
        body = claim_ok(client, worker, job["id"])
        submit_ok(client, worker, body["assignment_id"], answer_all(settings, body))  # in milliseconds
        ids.append(body["assignment_id"])
    with session_factory(settings)() as s:
        disputes = list(s.scalars(select(Dispute).where(Dispute.kind == "too_fast")))
        assert len(disputes) == 1
        assert disputes[0].subject_key == f"worker:{worker['id']}" and disputes[0].worker_id == worker["id"]
        record = s.scalars(select(WorkerJobQuality)).one()
        assert record.too_fast_count == 2
