"""Issue 11 (low): "paid" totals counted payouts not yet sent. A worker's ``paid`` and a job's ``paid``
now count only payout batches confirmed sent; what is scheduled shows as ``sending`` until then.
Before the fix both said "paid" as soon as a batch was scheduled."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from marketplace.config import Settings
from marketplace.db import session_factory, session_scope
from marketplace.models import JobStatus, PayoutDestination, Rail, utcnow
from marketplace.payments.rails import Rails
from marketplace.payouts import service as payouts_service
from marketplace.payouts import tasks as payout_tasks
from tests.assignments.conftest import JobFactory
from tests.conftest import UserFactory
from tests.security.money_tools import fund_now, job_status, work_once


def test_paid_counts_only_payouts_that_were_sent(
    client: TestClient,
    make_job: JobFactory,
    make_user: UserFactory,
    settings: Settings,
    rails: Rails,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    job = make_job(data=1, gt=2, activate=False, assignment_size=1, gt_per_assignment=1, overlap=1)
    terms = fund_now(settings, rails, job["id"])
    worker = make_user("worker")
    connect = rails.need_connect()
    account = connect.create_account(email=worker["email"], idempotency_key=f"acct-{worker['id']}")
    with session_scope(session_factory(settings)) as s:
        s.add(
            PayoutDestination(user_id=worker["id"], rail=Rail.card, destination=account, verified_at=utcnow())
        )
    # The payout batch is scheduled at completion but its task has not run yet.
    monkeypatch.setattr(payouts_service, "_enqueue", lambda session, ids: None)
    work_once(client, settings, worker, job["id"])
    assert job_status(settings, job["id"]) is JobStatus.completed

    mine = client.get("/api/payouts/me", headers=worker["headers"]).json()
    assert mine["paid"] == {} and mine["sending"] == {"usd": terms["per"]} and mine["owed"] == {}
    books = client.get(f"/api/jobs/{job['id']}/books", headers=job["requester"]["headers"]).json()
    assert books["paid"] == 0 and books["sending"] == terms["per"]

    payout_tasks.drain(time_budget_s=60)
    mine = client.get("/api/payouts/me", headers=worker["headers"]).json()
    assert mine["paid"] == {"usd": terms["per"]} and mine["sending"] == {}
    books = client.get(f"/api/jobs/{job['id']}/books", headers=job["requester"]["headers"]).json()
    assert books["paid"] == terms["per"] and books["sending"] == 0
    parts = ("fees", "paid", "sending", "refunded", "held")
    assert books["funded"] == sum(books[p] for p in parts)
