"""Expiry: past the deadline an assignment goes back to the pool (periodic task or lazily on claim)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text, update

from marketplace.assignments import service
from marketplace.assignments.tasks import run_expiry
from marketplace.config import Settings
from marketplace.db import session_factory, session_scope
from marketplace.models import Assignment, Chunk, utcnow
from tests.assignments.conftest import JobFactory, claim, right_answers, submit
from tests.conftest import UserFactory


def _backdate(settings: Settings, assignment_id: int) -> None:
    with session_scope(session_factory(settings)) as s:
        s.execute(
            update(Assignment)
            .where(Assignment.id == assignment_id)
            .values(deadline=utcnow() - timedelta(seconds=5))
        )


def test_expired_assignment_returns_to_the_pool_on_claim(
    client: TestClient, make_job: JobFactory, make_user: UserFactory, settings: Settings
) -> None:
    job = make_job(data=2, gt=2, assignment_size=2, gt_per_assignment=1)
    first, second = make_user("worker"), make_user("worker")
    a = claim(client, first, job["id"]).json()
    assert claim(client, second, job["id"]).json()["reason"] == "no_assignments_left"
    _backdate(settings, a["assignment_id"])
    mine = client.get("/api/assignments/mine", headers=first["headers"]).json()
    assert mine[0]["status"] == "expired"
    b = claim(client, second, job["id"])
    assert b.status_code == 200, b.text
    # the first worker may not submit any more, nor get the chunk back
    late = submit(client, first, a["assignment_id"], right_answers(settings, a))
    assert late.status_code == 409 and late.json()["reason"] == "assignment_expired"
    assert claim(client, first, job["id"]).json()["reason"] == "no_assignments_left"
    # an expired assignment shows no items
    assert (
        client.get(f"/api/assignments/{a['assignment_id']}", headers=first["headers"]).json()["items"] == []
    )


def test_late_submission_before_the_sweep_is_refused(
    client: TestClient, make_job: JobFactory, make_user: UserFactory, settings: Settings
) -> None:
    job = make_job(data=2, gt=2, assignment_size=2, gt_per_assignment=1)
    worker = make_user("worker")
    a = claim(client, worker, job["id"]).json()
    _backdate(settings, a["assignment_id"])
    r = submit(client, worker, a["assignment_id"], right_answers(settings, a))
    assert r.status_code == 409 and "expired" in r.json()["detail"]


def test_periodic_sweep_expires_and_frees_the_worker(
    client: TestClient, make_job: JobFactory, make_user: UserFactory, settings: Settings
) -> None:
    job = make_job(data=4, gt=2, assignment_size=2, gt_per_assignment=1)
    worker = make_user("worker")
    a = claim(client, worker, job["id"]).json()
    _backdate(settings, a["assignment_id"])
    factory = session_factory(settings)
    assert run_expiry(factory) == 1
    assert run_expiry(factory) == 0
    with factory() as s:
        assignment = s.get(Assignment, a["assignment_id"])
        assert assignment is not None and assignment.status == "expired"
    b = claim(client, worker, job["id"])  # free to claim again, but a different chunk
    assert b.status_code == 200
    progress = client.get(f"/api/jobs/{job['id']}/progress", headers=job["requester"]["headers"]).json()
    assert progress["assignments"] == {"expired": 1, "assigned": 1}


def test_cancelling_withdraws_every_held_assignment(
    client: TestClient, make_job: JobFactory, make_user: UserFactory, settings: Settings
) -> None:
    from marketplace.assignments.service import withdraw_open_assignments
    from marketplace.jobs.states import transition
    from marketplace.models import Job, JobStatus

    job = make_job(data=6, gt=2, assignment_size=2, gt_per_assignment=1)
    first, second = make_user("worker"), make_user("worker")
    a = claim(client, first, job["id"]).json()
    ahead = claim(client, first, job["id"], ahead=True).json()
    b = claim(client, second, job["id"]).json()
    with session_scope(session_factory(settings)) as s:
        row = s.get(Job, job["id"])
        assert row is not None
        transition(row, JobStatus.cancelled)
        assert withdraw_open_assignments(s, row) == 3
    for worker, held in ((first, a), (first, ahead), (second, b)):
        mine = {
            m["assignment_id"]: m["status"]
            for m in client.get("/api/assignments/mine", headers=worker["headers"]).json()
        }
        assert mine[held["assignment_id"]] == "expired"
    late = submit(client, second, b["assignment_id"], right_answers(settings, b))
    assert late.status_code == 409


def test_the_sweep_scores_a_submission_whose_scoring_task_was_lost(
    client: TestClient,
    make_job: JobFactory,
    make_user: UserFactory,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from marketplace.assignments import tasks

    job = make_job(data=2, gt=2, assignment_size=2, gt_per_assignment=1)
    worker = make_user("worker")
    a = claim(client, worker, job["id"]).json()
    with monkeypatch.context() as m:  # the broker is down at commit: the scoring task never runs
        m.setattr(tasks, "enqueue_scoring", lambda session, assignment_id: None)
        assert submit(client, worker, a["assignment_id"], right_answers(settings, a)).status_code == 200

    def status() -> str:
        mine = client.get("/api/assignments/mine", headers=worker["headers"]).json()
        return str(mine[0]["status"])

    assert status() == "submitted"
    factory = session_factory(settings)
    assert tasks.rescore_stale_submissions(factory, older_than_s=3600) == 0  # not stale yet
    assert tasks.rescore_stale_submissions(factory, older_than_s=0) == 1
    assert status() == "accepted"
    assert tasks.rescore_stale_submissions(factory, older_than_s=0) == 0  # nothing twice


def test_lazy_expiry_leaves_an_assignment_whose_chunk_another_transaction_holds(
    client: TestClient, make_job: JobFactory, make_user: UserFactory, settings: Settings
) -> None:
    """A claim's expiry of others' overdue work does not wait for a chunk another transaction holds:
    two claims, each holding a chunk from an earlier statement and waiting for the other's, deadlocked
    under load. The assignment is left for later and the sweep takes it back once the chunk is free."""
    job = make_job(data=2, gt=2, assignment_size=2, gt_per_assignment=1)
    worker = make_user("worker")
    a = claim(client, worker, job["id"]).json()
    _backdate(settings, a["assignment_id"])
    factory = session_factory(settings)
    with factory() as holder:  # e.g. another claim that expired its own work on this chunk first
        chunk_id = holder.scalar(select(Assignment.chunk_id).where(Assignment.id == a["assignment_id"]))
        holder.execute(select(Chunk.id).where(Chunk.id == chunk_id).with_for_update())
        with factory() as claimer:
            claimer.execute(text("SET LOCAL lock_timeout = '3s'"))  # waiting would fail the test, not hang
            assert service.expire_overdue(claimer, job_id=job["id"], skip_busy=True) == 0
            claimer.rollback()
        holder.rollback()
    assert run_expiry(factory) == 1
    mine = client.get("/api/assignments/mine", headers=worker["headers"]).json()
    assert mine[0]["status"] == "expired"
