"""Helpers for the money regression tests: a boxes job created through the API and funded on the card
rail the way a verified webhook funds it, so that accepted work earns real ledger entries."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from marketplace.config import Settings
from marketplace.db import session_factory, session_scope
from marketplace.flows import funding as funding_flow
from marketplace.ledger import service as ledger
from marketplace.models import AssignmentStatus, Job, JobStatus, LedgerTransaction
from marketplace.payments import repository as payments_repo
from marketplace.payments import service as payments
from marketplace.payments.rails import Rails
from tests.quality_db.conftest import answer_all, claim_ok, submit_ok


def fund_now(settings: Settings, rails: Rails, job_id: int, fee_bps: int = 500) -> dict[str, int]:
    """Fund ``job_id`` in full on its rail (as a verified payment would); returns the frozen terms."""
    with session_scope(session_factory(settings)) as s:
        job = s.get(Job, job_id)
        assert job is not None
        payments.start_funding(s, job, rails, fee_bps=fee_bps)
    with session_scope(session_factory(settings)) as s:
        funding = payments_repo.funding_for_job(s, job_id)
        assert funding is not None
        assert funding_flow.funds_arrived(s, funding, funding.amount, source="test")
        terms = {
            "fee": int(funding.fee_amount),
            "per": int(funding.pay_per_assignment),
            "payable": int(funding.payable_assignments),
        }
    # the job opens once its images are ingested, which starts when the funding commits
    assert job_status(settings, job_id) is JobStatus.active
    return terms


def nothing(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return []


def work_once(
    client: TestClient, settings: Settings, worker: dict[str, Any], job_id: int, *, right: bool = True
) -> dict[str, Any]:
    """Claim one assignment, submit it (right or wrong on its GT), return the claim body."""
    body = claim_ok(client, worker, job_id)
    answers = answer_all(settings, body, on_gt=None if right else nothing)
    submit_ok(client, worker, body["assignment_id"], answers)
    return body


def chunk_of(settings: Settings, assignment_id: int) -> int:
    from marketplace.models import Assignment

    with session_factory(settings)() as s:
        a = s.get(Assignment, assignment_id)
        assert a is not None
        return a.chunk_id


def status_of(settings: Settings, assignment_id: int) -> AssignmentStatus:
    from marketplace.models import Assignment

    with session_factory(settings)() as s:
        a = s.get(Assignment, assignment_id)
        assert a is not None
        return a.status


def job_status(settings: Settings, job_id: int) -> JobStatus:
    with session_factory(settings)() as s:
        job = s.get(Job, job_id)
        assert job is not None
        return job.status


def books(settings: Settings, job_id: int) -> ledger.JobBooks:
    with session_factory(settings)() as s:
        return ledger.check_balanced(s, job_id)


def earned_by(settings: Settings, job_id: int) -> dict[int, int]:
    """Everything each worker earned on the job (payable now or already paid)."""
    from marketplace.models import AccountType, LedgerEntry

    with session_factory(settings)() as s:
        rows = s.query(LedgerEntry).filter(
            LedgerEntry.job_id == job_id, LedgerEntry.account_type == AccountType.worker_payable
        )
        out: dict[int, int] = {}
        for row in rows:
            if row.amount > 0 and row.owner_id is not None:
                out[row.owner_id] = out.get(row.owner_id, 0) + int(row.amount)
        return out


def earning_count(settings: Settings, job_id: int) -> int:
    with session_factory(settings)() as s:
        return s.query(LedgerTransaction).filter(
            LedgerTransaction.job_id == job_id, LedgerTransaction.kind == "earning"
        ).count()
