"""Issue 11 item 2: a reviewer overturns a rejection after another worker's submission for the same
chunk was accepted. The rule: the overturned worker did the work and is paid, out of the platform's
fee (the platform pays for its scoring mistake), not out of the budget the other chunks need; the
chunk's accounting stays at ``overlap`` acceptances, so the job still completes and settles.
Before the fix both were paid from the job's budget and the job never reached ``completed``."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from marketplace.config import Settings
from marketplace.models import AssignmentStatus, JobStatus
from marketplace.payments.rails import Rails
from tests.assignments.conftest import JobFactory
from tests.conftest import UserFactory
from tests.security.money_tools import (
    books,
    chunk_of,
    earned_by,
    fund_now,
    job_status,
    status_of,
    work_once,
)


def _appeal(client: TestClient, worker: dict[str, Any], assignment_id: int) -> int:
    r = client.post(
        f"/api/assignments/{assignment_id}/appeal", json={"comment": "I did it"}, headers=worker["headers"]
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def _decide(client: TestClient, reviewer: dict[str, Any], dispute_id: int) -> Any:
    return client.post(
        f"/api/reviews/disputes/{dispute_id}/decide", json={"action": "overturn"}, headers=reviewer["headers"]
    )


def _redo_chunk(
    client: TestClient, settings: Settings, worker: dict[str, Any], job_id: int, rejected_id: int
) -> dict[str, Any]:
    """``worker`` works the job (at most two claims) until it has redone the rejected assignment's chunk."""
    target = chunk_of(settings, rejected_id)
    for _ in range(2):
        done = work_once(client, settings, worker, job_id)
        if chunk_of(settings, done["assignment_id"]) == target:
            return done
    raise AssertionError(f"worker {worker['id']} did not get chunk {target} in two claims")


def test_overturn_after_the_chunk_was_redone_pays_once_each_and_the_job_completes(
    client: TestClient,
    make_job: JobFactory,
    make_user: UserFactory,
    settings: Settings,
    rails: Rails,
) -> None:
    job = make_job(data=3, gt=3, activate=False, assignment_size=1, gt_per_assignment=1, overlap=1)
    # A fee large enough for one assignment's pay (with 5% that takes a job of 19 assignments or more).
    terms = fund_now(settings, rails, job["id"], fee_bps=4000)
    a, b, c, reviewer = (make_user("worker"), make_user("worker"), make_user("worker"), make_user("reviewer"))

    rejected = work_once(client, settings, a, job["id"], right=False)
    assert status_of(settings, rejected["assignment_id"]) is AssignmentStatus.rejected
    dispute = _appeal(client, a, rejected["assignment_id"])

    # b redoes a's chunk (and maybe one other first); at least one chunk stays open.
    done = _redo_chunk(client, settings, b, job["id"], rejected["assignment_id"])
    assert status_of(settings, done["assignment_id"]) is AssignmentStatus.accepted

    r = _decide(client, reviewer, dispute)
    assert r.status_code == 200, r.text
    assert status_of(settings, rejected["assignment_id"]) is AssignmentStatus.accepted

    # c finishes what is left; the job completes and settles.
    while job_status(settings, job["id"]) is JobStatus.active:
        work_once(client, settings, c, job["id"])
    assert job_status(settings, job["id"]) is JobStatus.completed

    per = terms["per"]
    earned = earned_by(settings, job["id"])
    assert earned[a["id"]] == per  # the overturned worker is paid once
    assert sum(earned.values()) == (terms["payable"] + 1) * per  # every chunk once, plus a's extra
    final = books(settings, job["id"])  # balanced
    assert final.fees == terms["fee"] - per  # the extra came out of the fee, not the budget
    assert final.unearned == 0


def test_overturn_of_a_settled_job_is_refused_with_a_reason(
    client: TestClient,
    make_job: JobFactory,
    make_user: UserFactory,
    settings: Settings,
    rails: Rails,
) -> None:
    job = make_job(data=1, gt=2, activate=False, assignment_size=1, gt_per_assignment=1, overlap=1)
    fund_now(settings, rails, job["id"])
    a, b, reviewer = make_user("worker"), make_user("worker"), make_user("reviewer")
    rejected = work_once(client, settings, a, job["id"], right=False)
    dispute = _appeal(client, a, rejected["assignment_id"])
    work_once(client, settings, b, job["id"])
    assert job_status(settings, job["id"]) is JobStatus.completed

    r = _decide(client, reviewer, dispute)
    assert r.status_code == 409, r.text
    assert r.json()["reason"] == "job_settled" and "settled" in r.json()["detail"]
    assert status_of(settings, rejected["assignment_id"]) is AssignmentStatus.rejected
    assert a["id"] not in earned_by(settings, job["id"])
    books(settings, job["id"])


def test_overturn_without_fee_to_cover_it_is_refused(
    client: TestClient,
    make_job: JobFactory,
    make_user: UserFactory,
    settings: Settings,
    rails: Rails,
) -> None:
    job = make_job(data=3, gt=2, activate=False, assignment_size=1, gt_per_assignment=1, overlap=1)
    fund_now(settings, rails, job["id"], fee_bps=0)
    a, b, reviewer = make_user("worker"), make_user("worker"), make_user("reviewer")
    rejected = work_once(client, settings, a, job["id"], right=False)
    dispute = _appeal(client, a, rejected["assignment_id"])
    _redo_chunk(client, settings, b, job["id"], rejected["assignment_id"])
    assert job_status(settings, job["id"]) is JobStatus.active
    r = _decide(client, reviewer, dispute)
    assert r.status_code == 409, r.text
    assert r.json()["reason"] == "overturn_unfunded"
    assert status_of(settings, rejected["assignment_id"]) is AssignmentStatus.rejected
