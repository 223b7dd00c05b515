"""A funded job whose activation fails on a bad file: nothing opens, and the requester gets the whole
bounty back, the platform fee included (the job never ran)."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from marketplace.config import Settings
from marketplace.db import session_factory, session_scope
from marketplace.flows import funding as funding_flow
from marketplace.models import Job, JobStatus, Payout, PayoutKind
from marketplace.payments import repository as payments_repo
from marketplace.payments import service as payments
from marketplace.payments.rails import Rails
from tests.media.conftest import MixedJob, job_row
from tests.security.money_tools import books


def test_a_failed_activation_refunds_the_whole_bounty(
    client: TestClient, settings: Settings, rails: Rails, mixed_job: MixedJob
) -> None:
    job = mixed_job(data=6, gt=3)
    (job["root"] / job["names"][0]).write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    with session_scope(session_factory(settings)) as s:
        row = s.get(Job, job["id"])
        assert row is not None
        payments.start_funding(s, row, rails, fee_bps=500)
    with session_scope(session_factory(settings)) as s:
        funding = payments_repo.funding_for_job(s, job["id"])
        assert funding is not None and funding.fee_amount > 0
        assert funding_flow.funds_arrived(s, funding, funding.amount, source="test")
        bounty = int(funding.amount)

    failed = job_row(settings, job["id"])
    assert failed.status is JobStatus.failed
    assert [e["name"] for e in failed.ingest_errors or []] == [job["names"][0]]
    ledger = books(settings, job["id"])
    assert ledger.balanced
    assert ledger.funded == bounty and ledger.fees == 0 and ledger.refunded + ledger.held == bounty
    with session_factory(settings)() as s:
        kinds = list(s.scalars(select(Payout.kind).where(Payout.job_id == job["id"])))
    assert kinds == [PayoutKind.refund]
