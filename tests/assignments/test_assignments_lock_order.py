"""Issue 19: a submission and a scoring lock their job (``FOR KEY SHARE``) and their assignment in one
statement, and still job first: a cancel holding the job (``FOR UPDATE``, then the assignments) must
find the assignment free while they wait for the job, or the two would deadlock."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from marketplace.assignments import repository, submit_repository
from marketplace.config import Settings
from marketplace.db import session_factory
from marketplace.models import Job, JobStatus
from tests.assignments.conftest import JobFactory, claim
from tests.conftest import UserFactory


def _submit_lock(session: Session, assignment_id: int) -> Any:
    row = submit_repository.lock_for_submit(session, assignment_id, with_items=True)
    return row.job_status


def _scoring_lock(session: Session, assignment_id: int) -> Any:
    found = repository.lock_assignment_with_job(session, assignment_id)
    assert found is not None
    return found[1].status


def _wait_until_blocked(session: Session, pid: int) -> None:
    """Until backend ``pid`` waits for a lock (a synchronisation point, not a timing assertion)."""
    query = text("SELECT wait_event_type FROM pg_stat_activity WHERE pid = :pid")
    for _ in range(600):
        if session.scalar(query, {"pid": pid}) == "Lock":
            return
        session.rollback()  # a fresh snapshot of the statistics next time
        time.sleep(0.05)
    raise AssertionError(f"backend {pid} never waited for a lock")


@pytest.mark.parametrize("lock", [_submit_lock, _scoring_lock], ids=["submission", "scoring"])
def test_the_job_is_locked_before_the_assignment_in_one_statement(
    client: TestClient,
    make_job: JobFactory,
    make_user: UserFactory,
    settings: Settings,
    lock: Callable[[Session, int], Any],
) -> None:
    job = make_job(data=2, gt=2, assignment_size=1, gt_per_assignment=1)
    worker = make_user("worker")
    r = claim(client, worker, job["id"])
    assert r.status_code == 200, r.text
    assignment_id = r.json()["assignment_id"]
    factory = session_factory(settings)

    with factory() as canceller, factory() as locker, factory() as probe:
        canceller.scalar(select(Job.id).where(Job.id == job["id"]).with_for_update())  # as a cancel does
        pid = int(locker.scalar(text("SELECT pg_backend_pid()")))
        seen: dict[str, Any] = {}

        def run() -> None:
            try:
                seen["job_status"] = lock(locker, assignment_id)
            except Exception as exc:  # reported below
                seen["error"] = exc

        thread = threading.Thread(target=run)
        thread.start()
        try:
            _wait_until_blocked(probe, pid)
            # while it waits for the job, the assignment is not held: a cancel can take it
            try:
                probe.execute(
                    text("SELECT id FROM assignments WHERE id = :id FOR NO KEY UPDATE NOWAIT"),
                    {"id": assignment_id},
                )
                assignment_free = True
            except OperationalError:
                assignment_free = False
            probe.rollback()
            canceller.execute(update(Job).where(Job.id == job["id"]).values(status=JobStatus.cancelled))
            canceller.commit()
        finally:
            canceller.rollback()
            thread.join(60)
        locker.rollback()

    assert "error" not in seen, seen
    assert assignment_free
    assert seen["job_status"] is JobStatus.cancelled  # read after the wait: what the cancel committed
