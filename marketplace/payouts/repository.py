"""SQL of payouts, their outbox, fundings and payout destinations."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session

from marketplace.models import (
    Job,
    JobFunding,
    JobStatus,
    LedgerTransaction,
    Payout,
    PayoutDestination,
    PayoutItem,
    PayoutKind,
    PayoutOutbox,
    PayoutSchedule,
    PayoutStatus,
    Rail,
    User,
    utcnow,
)

#: Key of the PostgreSQL advisory lock serialising transactions of the chain operator account.
OPERATOR_LOCK_KEY = 7_303_003


def verified_destinations(session: Session, user_ids: Sequence[int], rail: Rail) -> dict[int, str]:
    if not user_ids:
        return {}
    rows = session.execute(
        select(PayoutDestination.user_id, PayoutDestination.destination).where(
            PayoutDestination.user_id.in_(list(user_ids)),
            PayoutDestination.rail == rail,
            PayoutDestination.verified_at.is_not(None),
        )
    )
    return {int(u): str(d) for u, d in rows}


def destination_for(session: Session, user_id: int, rail: Rail) -> PayoutDestination | None:
    return session.scalars(
        select(PayoutDestination).where(PayoutDestination.user_id == user_id, PayoutDestination.rail == rail)
    ).first()


def destination_owner(session: Session, rail: Rail, destination: str) -> int | None:
    return session.scalar(
        select(PayoutDestination.user_id).where(
            PayoutDestination.rail == rail, func.lower(PayoutDestination.destination) == destination.lower()
        )
    )


def add(session: Session, *rows: object) -> None:
    session.add_all(rows)
    session.flush()


def count_earnings(session: Session, job_id: int) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(LedgerTransaction)
            .where(LedgerTransaction.job_id == job_id, LedgerTransaction.kind == "earning")
        )
        or 0
    )


def payout_exists(session: Session, job_id: int, kind: PayoutKind) -> bool:
    return (
        session.scalar(select(Payout.id).where(Payout.job_id == job_id, Payout.kind == kind).limit(1))
        is not None
    )


def lock_due_outbox(session: Session, payout_id: int | None, now: datetime) -> PayoutOutbox | None:
    """One unprocessed outbox row, locked; rows another worker holds are skipped (``SKIP LOCKED``)."""
    stmt = select(PayoutOutbox).where(PayoutOutbox.processed_at.is_(None))
    if payout_id is not None:
        stmt = stmt.where(PayoutOutbox.payout_id == payout_id)
    else:
        stmt = stmt.where(PayoutOutbox.available_at <= now).order_by(
            PayoutOutbox.available_at, PayoutOutbox.id
        )
    return session.scalars(stmt.limit(1).with_for_update(skip_locked=True)).first()


def due_outbox_ids(session: Session, now: datetime, limit: int) -> list[int]:
    return list(
        session.scalars(
            select(PayoutOutbox.payout_id)
            .where(PayoutOutbox.processed_at.is_(None), PayoutOutbox.available_at <= now)
            .order_by(PayoutOutbox.available_at, PayoutOutbox.id)
            .limit(limit)
        )
    )


def record_outbox_failure(session: Session, payout_id: int, error: str, next_at: datetime) -> int:
    session.execute(
        update(PayoutOutbox)
        .where(PayoutOutbox.payout_id == payout_id, PayoutOutbox.processed_at.is_(None))
        .values(attempts=PayoutOutbox.attempts + 1, last_error=error[:4000], available_at=next_at)
    )
    return int(session.scalar(select(PayoutOutbox.attempts).where(PayoutOutbox.payout_id == payout_id)) or 0)


def outbox_attempts(session: Session, payout_id: int) -> int:
    return int(session.scalar(select(PayoutOutbox.attempts).where(PayoutOutbox.payout_id == payout_id)) or 0)


def other_pending_payouts(session: Session, job_id: int, before_id: int) -> bool:
    return (
        session.scalar(
            select(Payout.id)
            .where(Payout.job_id == job_id, Payout.id < before_id, Payout.status == PayoutStatus.pending)
            .limit(1)
        )
        is not None
    )


def items(session: Session, payout_id: int) -> list[PayoutItem]:
    return list(
        session.scalars(select(PayoutItem).where(PayoutItem.payout_id == payout_id).order_by(PayoutItem.id))
    )


def payouts_for_job(session: Session, job_id: int) -> list[Payout]:
    return list(session.scalars(select(Payout).where(Payout.job_id == job_id).order_by(Payout.id)))


def take_operator_lock(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": OPERATOR_LOCK_KEY})


def fundings_needing_work(session: Session) -> list[tuple[int, JobStatus, PayoutSchedule, datetime | None]]:
    """Funded jobs that may have payouts to schedule: on_acceptance jobs at work, and ended jobs."""
    rows = session.execute(
        select(Job.id, Job.status, JobFunding.payout_schedule, JobFunding.closed_at)
        .join(JobFunding, JobFunding.job_id == Job.id)
        .where(JobFunding.status == "succeeded")
        .where(
            (
                (JobFunding.payout_schedule == PayoutSchedule.on_acceptance)
                & Job.status.in_([JobStatus.active, JobStatus.validating])
            )
            | Job.status.in_([JobStatus.completed, JobStatus.cancelled])
        )
        .order_by(Job.id)
    )
    return [(int(a), JobStatus(b), PayoutSchedule(c), d) for a, b, c, d in rows]


def user(session: Session, user_id: int) -> User | None:
    return session.get(User, user_id)


def job(session: Session, job_id: int, *, lock: bool = False) -> Job | None:
    if lock:
        return session.scalars(select(Job).where(Job.id == job_id).with_for_update()).first()
    return session.get(Job, job_id)


def now() -> datetime:
    return utcnow()


def worker_payout_totals(
    session: Session, *, worker_id: int | None = None, job_id: int | None = None
) -> dict[tuple[PayoutStatus, str], int]:
    """Money in workers' payout batches by (batch status, currency): ``done`` has reached them,
    ``pending`` is scheduled and on its way, ``failed`` waits for an operator. For one worker (all their
    jobs) or one job (all its workers)."""
    stmt = (
        select(Payout.status, Payout.currency, func.coalesce(func.sum(PayoutItem.amount), 0))
        .join(PayoutItem, PayoutItem.payout_id == Payout.id)
        .where(Payout.kind == PayoutKind.workers)
        .group_by(Payout.status, Payout.currency)
    )
    if worker_id is not None:
        stmt = stmt.where(PayoutItem.user_id == worker_id)
    if job_id is not None:
        stmt = stmt.where(Payout.job_id == job_id)
    return {(status, currency): int(total) for status, currency, total in session.execute(stmt)}


def pending_summary(session: Session, rail: Rail | None = None) -> dict[str, object]:
    """Payouts not yet sent: how many, their total and the oldest's creation time (for operators)."""
    summed = func.coalesce(func.sum(Payout.total), 0)
    stmt = select(func.count(Payout.id), summed, func.min(Payout.created_at)).where(
        Payout.status == PayoutStatus.pending
    )
    if rail is not None:
        stmt = stmt.where(Payout.rail == rail)
    count, total, oldest = session.execute(stmt).one()
    return {"count": int(count), "total": int(total), "oldest": oldest.isoformat() if oldest else None}


def outbox_depth(session: Session) -> int:
    """Outbox rows not yet processed (sent or given up)."""
    stmt = select(func.count(PayoutOutbox.id)).where(PayoutOutbox.processed_at.is_(None))
    return int(session.scalar(stmt) or 0)
