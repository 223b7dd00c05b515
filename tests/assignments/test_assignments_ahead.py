"""Claim-ahead: a worker holding the current assignment of a job reserves the next one
(``?ahead=true``) so the page can preload it; at most one current + one next, same claim rules."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from marketplace.assignments.tasks import run_expiry
from marketplace.config import Settings
from marketplace.db import session_factory, session_scope
from marketplace.models import Assignment, AssignmentItem, Chunk, JobWorkerBan, utcnow
from tests.assignments.conftest import JobFactory, claim, right_answers, submit
from tests.conftest import UserFactory


def _row(settings: Settings, assignment_id: int) -> Assignment:
    with session_factory(settings)() as s:
        a = s.get(Assignment, assignment_id)
        assert a is not None
        return a


def _set_deadline(settings: Settings, assignment_id: int, deadline: datetime) -> None:
    with session_scope(session_factory(settings)) as s:
        s.execute(update(Assignment).where(Assignment.id == assignment_id).values(deadline=deadline))


def _when(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_ahead_needs_a_current_one_and_a_third_is_refused(
    client: TestClient, make_job: JobFactory, make_user: UserFactory, settings: Settings
) -> None:
    job = make_job(data=10, gt=4, assignment_size=2, gt_per_assignment=1, time_limit_s=600)
    worker = make_user("worker")
    r = claim(client, worker, job["id"], ahead=True)
    assert r.status_code == 409 and r.json()["reason"] == "no_current_assignment"
    current = claim(client, worker, job["id"]).json()
    # without ahead the old rule stays: one active assignment per worker per job
    r = claim(client, worker, job["id"])
    assert r.status_code == 409 and r.json()["reason"] == "already_assigned"
    nxt = claim(client, worker, job["id"], ahead=True)
    assert nxt.status_code == 200, nxt.text
    body = nxt.json()
    assert set(body) == set(current) and body["status"] == "assigned" and len(body["items"]) == 3
    # its clock starts when the current one ends
    assert _when(body["deadline"]) == _when(current["deadline"]) + timedelta(seconds=600)
    third = claim(client, worker, job["id"], ahead=True)
    assert third.status_code == 409 and third.json()["reason"] == "ahead_limit_reached"
    assert third.json()["assignment_id"] == current["assignment_id"]
    assert claim(client, worker, job["id"]).json()["reason"] == "already_assigned"
    # never a chunk held before, and the GT of the current one is not repeated while others remain
    a, b = _row(settings, current["assignment_id"]), _row(settings, body["assignment_id"])
    assert a.chunk_id != b.chunk_id and (a.slot, b.slot) == ("current", "next")
    with session_factory(settings)() as s:
        gt = {
            i.assignment_id: i.image_id
            for i in s.scalars(select(AssignmentItem).where(AssignmentItem.is_gt.is_(True)))
        }
    assert gt[a.id] != gt[b.id]
    mine = client.get("/api/assignments/mine", headers=worker["headers"]).json()
    assert [m["status"] for m in mine] == ["assigned", "assigned"]


def test_ahead_follows_the_claim_rules(
    client: TestClient, make_job: JobFactory, make_user: UserFactory, settings: Settings
) -> None:
    job = make_job(data=4, gt=2, assignment_size=2, gt_per_assignment=1)
    worker, other = make_user("worker"), make_user("worker")
    claim(client, worker, job["id"])
    claim(client, other, job["id"])
    r = claim(client, worker, job["id"], ahead=True)  # both chunks are held (overlap 1)
    assert r.status_code == 409 and r.json()["reason"] == "no_assignments_left"
    with session_scope(session_factory(settings)) as s:
        s.add(JobWorkerBan(job_id=job["id"], worker_id=worker["id"], reason="test"))
    r = claim(client, worker, job["id"], ahead=True)
    assert r.status_code == 409 and r.json()["reason"] == "banned"


def test_submitting_the_current_one_makes_the_next_current_with_a_full_time_limit(
    client: TestClient, make_job: JobFactory, make_user: UserFactory, settings: Settings
) -> None:
    job = make_job(data=10, gt=4, assignment_size=2, gt_per_assignment=1, time_limit_s=600)
    worker = make_user("worker")
    current = claim(client, worker, job["id"]).json()
    nxt = claim(client, worker, job["id"], ahead=True).json()
    before = utcnow()
    r = submit(client, worker, current["assignment_id"], right_answers(settings, current))
    assert r.status_code == 200, r.text
    promoted = _row(settings, nxt["assignment_id"])
    assert promoted.slot == "current" and promoted.status == "assigned"
    assert before + timedelta(seconds=599) <= promoted.deadline <= utcnow() + timedelta(seconds=600)
    seen = client.get(f"/api/assignments/{nxt['assignment_id']}", headers=worker["headers"]).json()
    assert _when(seen["deadline"]) == promoted.deadline
    assert [i["item_id"] for i in seen["items"]] == [i["item_id"] for i in nxt["items"]]
    # holding one again: a plain claim is refused, an ahead claim works
    assert claim(client, worker, job["id"]).json()["reason"] == "already_assigned"
    assert claim(client, worker, job["id"], ahead=True).status_code == 200
    # the promoted one is submitted normally
    r = submit(client, worker, nxt["assignment_id"], right_answers(settings, nxt))
    assert r.status_code == 200


def test_expiry_of_both_and_of_the_current_alone(
    client: TestClient, make_job: JobFactory, make_user: UserFactory, settings: Settings
) -> None:
    job = make_job(data=12, gt=4, assignment_size=2, gt_per_assignment=1, time_limit_s=600)
    worker = make_user("worker")
    factory = session_factory(settings)
    # the current one expires: the next becomes current, keeping its deadline
    a = claim(client, worker, job["id"]).json()
    b = claim(client, worker, job["id"], ahead=True).json()
    _set_deadline(settings, a["assignment_id"], utcnow() - timedelta(seconds=1))
    kept = _row(settings, b["assignment_id"]).deadline
    assert run_expiry(factory) == 1
    assert _row(settings, a["assignment_id"]).status == "expired"
    row = _row(settings, b["assignment_id"])
    assert (row.slot, row.status, row.deadline) == ("current", "assigned", kept)
    # both expire (lazily, on the worker's next claim): both chunks go back to the pool
    c = claim(client, worker, job["id"], ahead=True).json()
    for assignment_id in (b["assignment_id"], c["assignment_id"]):
        _set_deadline(settings, assignment_id, utcnow() - timedelta(seconds=1))
    late = submit(client, worker, c["assignment_id"], right_answers(settings, c))
    assert late.status_code == 409 and late.json()["reason"] == "assignment_expired"
    d = claim(client, worker, job["id"])
    assert d.status_code == 200, d.text
    assert {_row(settings, x["assignment_id"]).status for x in (b, c)} == {"expired"}
    with factory() as s:
        chunks = {ch.id: ch for ch in s.scalars(select(Chunk).where(Chunk.job_id == job["id"]))}
    for assignment_id in (b["assignment_id"], c["assignment_id"]):
        chunk = chunks[_row(settings, assignment_id).chunk_id]
        assert chunk.status == "open" and chunk.free_slots == 1
    assert _row(settings, d.json()["assignment_id"]).slot == "current"


def test_the_database_allows_one_current_and_one_next(
    client: TestClient, make_job: JobFactory, make_user: UserFactory, settings: Settings
) -> None:
    job = make_job(data=10, gt=4, assignment_size=2, gt_per_assignment=1)
    worker = make_user("worker")
    a = claim(client, worker, job["id"]).json()
    claim(client, worker, job["id"], ahead=True)
    row = _row(settings, a["assignment_id"])
    free = make_user("worker")
    spare = claim(client, free, job["id"]).json()
    spare_row = _row(settings, spare["assignment_id"])
    for slot in ("current", "next"):
        with pytest.raises(IntegrityError), session_scope(session_factory(settings)) as s:
            s.execute(
                update(Assignment)
                .where(Assignment.id == spare_row.id)
                .values(worker_id=row.worker_id, slot=slot)
            )
