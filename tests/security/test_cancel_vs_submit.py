"""Issue 11 item 3: a cancel racing a submission must not lose the worker's pay. Work submitted before
the cancel is scored and paid (by the cancel itself when its scoring has not run yet); a submission
that arrives after the cancel gets a 409. Before the fix the cancel settled the job first and the late
scoring found the job's money gone ("job is settled"): accepted work, never paid."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from fastapi.testclient import TestClient

from marketplace.assignments import submit_repository
from marketplace.assignments import tasks as assignment_tasks
from marketplace.config import Settings
from marketplace.models import AssignmentStatus, JobStatus
from marketplace.payments.rails import Rails
from tests.assignments.conftest import JobFactory
from tests.conftest import UserFactory
from tests.quality_db.conftest import answer_all, claim_ok
from tests.security.money_tools import books, earned_by, fund_now, job_status, status_of


def _cancel(client: TestClient, job: dict[str, Any]) -> Any:
    return client.post(f"/api/jobs/{job['id']}/cancel", headers=job["requester"]["headers"])


def test_a_submission_not_yet_scored_is_scored_and_paid_by_the_cancel(
    client: TestClient,
    make_job: JobFactory,
    make_user: UserFactory,
    settings: Settings,
    rails: Rails,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    job = make_job(data=3, gt=2, activate=False, assignment_size=1, gt_per_assignment=1, overlap=1)
    terms = fund_now(settings, rails, job["id"])
    worker = make_user("worker")
    # The scoring task has not run yet when the cancel arrives (queued behind others, or lost).
    monkeypatch.setattr(assignment_tasks, "enqueue_scoring", lambda session, assignment_id: None)
    claim = claim_ok(client, worker, job["id"])
    r = client.post(
        f"/api/assignments/{claim['assignment_id']}/submit",
        json=answer_all(settings, claim),
        headers=worker["headers"],
    )
    assert r.status_code == 200, r.text

    r = _cancel(client, job)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "cancelled"
    assert status_of(settings, claim["assignment_id"]) is AssignmentStatus.accepted
    assert earned_by(settings, job["id"]) == {worker["id"]: terms["per"]}
    final = books(settings, job["id"])
    assert final.refunded == final.funded - terms["fee"] - terms["per"]


def test_the_cancel_waits_for_a_submission_in_flight_then_pays_it(
    client: TestClient,
    make_job: JobFactory,
    make_user: UserFactory,
    settings: Settings,
    rails: Rails,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    job = make_job(data=3, gt=2, activate=False, assignment_size=1, gt_per_assignment=1, overlap=1)
    terms = fund_now(settings, rails, job["id"])
    worker = make_user("worker")
    claim = claim_ok(client, worker, job["id"])
    answers = answer_all(settings, claim)

    inside, release = threading.Event(), threading.Event()
    real_store = submit_repository.store_submission  # on PostgreSQL: answers and status, one statement

    def held_store(*args: Any) -> Any:
        inside.set()  # the submission holds its locks here until the test lets it go
        release.wait(30)
        return real_store(*args)

    monkeypatch.setattr(submit_repository, "store_submission", held_store)
    results: dict[str, Any] = {}

    def submit() -> None:
        results["submit"] = client.post(
            f"/api/assignments/{claim['assignment_id']}/submit", json=answers, headers=worker["headers"]
        )

    def cancel() -> None:
        results["cancel"] = _cancel(client, job)

    submitter = threading.Thread(target=submit)
    submitter.start()
    assert inside.wait(30)
    canceller = threading.Thread(target=cancel)
    canceller.start()
    canceller.join(1.0)
    waited = canceller.is_alive()  # the cancel must wait for the submission it raced
    release.set()
    submitter.join(60)
    canceller.join(60)

    assert results["submit"].status_code == 200, results["submit"].text
    assert results["cancel"].status_code == 200, results["cancel"].text
    assert waited
    assert job_status(settings, job["id"]) is JobStatus.cancelled
    assert status_of(settings, claim["assignment_id"]) is AssignmentStatus.accepted
    assert earned_by(settings, job["id"]) == {worker["id"]: terms["per"]}
    books(settings, job["id"])


def test_a_submission_after_the_cancel_is_refused(
    client: TestClient,
    make_job: JobFactory,
    make_user: UserFactory,
    settings: Settings,
    rails: Rails,
) -> None:
    job = make_job(data=3, gt=2, activate=False, assignment_size=1, gt_per_assignment=1, overlap=1)
    fund_now(settings, rails, job["id"])
    worker = make_user("worker")
    claim = claim_ok(client, worker, job["id"])
    assert _cancel(client, job).status_code == 200
    r = client.post(
        f"/api/assignments/{claim['assignment_id']}/submit",
        json=answer_all(settings, claim),
        headers=worker["headers"],
    )
    assert r.status_code == 409
    assert worker["id"] not in earned_by(settings, job["id"])
    books(settings, job["id"])
