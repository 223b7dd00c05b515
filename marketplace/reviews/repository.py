"""All SQL of the reviewers' backend: disputes and their history."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from marketplace.models import (
    Assignment,
    Dispute,
    DisputeEvent,
    DisputeKind,
    DisputeStatus,
    Job,
    Role,
    User,
)


def open_dispute_for(session: Session, job_id: int, kind: DisputeKind, subject_key: str) -> Dispute | None:
    stmt = (
        select(Dispute)
        .where(
            Dispute.job_id == job_id,
            Dispute.kind == kind,
            Dispute.subject_key == subject_key,
            Dispute.status == DisputeStatus.open,
        )
        .with_for_update()
    )
    return session.scalar(stmt)


def add_dispute(session: Session, dispute: Dispute) -> Dispute:
    session.add(dispute)
    session.flush()
    return dispute


def add_event(
    session: Session,
    dispute_id: int,
    action: str,
    *,
    actor_id: int | None,
    comment: str = "",
    data: Any = None,
    at: datetime | None = None,
) -> DisputeEvent:
    event = DisputeEvent(dispute_id=dispute_id, action=action, actor_id=actor_id, comment=comment, data=data)
    if at is not None:
        event.at = at
    session.add(event)
    session.flush()
    return event


def events(session: Session, dispute_id: int) -> list[DisputeEvent]:
    stmt = select(DisputeEvent).where(DisputeEvent.dispute_id == dispute_id).order_by(DisputeEvent.id)
    return list(session.scalars(stmt))


def get_dispute(session: Session, dispute_id: int, *, for_update: bool = False) -> Dispute | None:
    if not for_update:
        return session.get(Dispute, dispute_id)
    return session.scalar(
        select(Dispute)
        .where(Dispute.id == dispute_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


def list_disputes(
    session: Session,
    *,
    kind: DisputeKind | None,
    status: DisputeStatus | None,
    job_id: int | None,
    worker_id: int | None = None,
    limit: int,
    offset: int,
) -> list[Dispute]:
    stmt = select(Dispute).order_by(Dispute.id).limit(limit).offset(offset)
    if kind is not None:
        stmt = stmt.where(Dispute.kind == kind)
    if status is not None:
        stmt = stmt.where(Dispute.status == status)
    if job_id is not None:
        stmt = stmt.where(Dispute.job_id == job_id)
    if worker_id is not None:
        stmt = stmt.where(Dispute.worker_id == worker_id)
    return list(session.scalars(stmt))


def appeals_of(session: Session, worker_id: int) -> list[Dispute]:
    stmt = (
        select(Dispute)
        .where(Dispute.kind == DisputeKind.appeal, Dispute.opened_by == worker_id)
        .order_by(Dispute.id.desc())
    )
    return list(session.scalars(stmt))


def appeal_exists(session: Session, assignment_id: int) -> bool:
    stmt = select(Dispute.id).where(
        Dispute.kind == DisputeKind.appeal, Dispute.assignment_id == assignment_id
    )
    return session.scalar(stmt.limit(1)) is not None


def appeal_for(session: Session, assignment_id: int) -> Dispute | None:
    stmt = select(Dispute).where(Dispute.kind == DisputeKind.appeal, Dispute.assignment_id == assignment_id)
    return session.scalar(stmt.order_by(Dispute.id.desc()).limit(1))


def dispute_counts(session: Session, job_id: int) -> dict[str, dict[str, int]]:
    stmt = (
        select(Dispute.kind, Dispute.status, func.count())
        .where(Dispute.job_id == job_id)
        .group_by(Dispute.kind, Dispute.status)
    )
    out: dict[str, dict[str, int]] = {}
    for kind, status, n in session.execute(stmt).tuples():
        out.setdefault(kind.value, {})[status.value] = int(n)
    return out


def get_assignment(session: Session, assignment_id: int, *, for_update: bool = False) -> Assignment | None:
    if not for_update:
        return session.get(Assignment, assignment_id)
    return session.scalar(
        select(Assignment)
        .where(Assignment.id == assignment_id)
        .with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    )


def is_worker(session: Session, user_id: int) -> bool:
    return session.scalar(select(User.id).where(User.id == user_id, User.role == Role.worker)) is not None


def get_job(session: Session, job_id: int) -> Job | None:
    return session.get(Job, job_id)


def rejected_assignments_of_chunk(session: Session, chunk_id: int) -> list[Assignment]:
    stmt = (
        select(Assignment)
        .where(Assignment.chunk_id == chunk_id, Assignment.status == "rejected")
        .order_by(Assignment.id)
    )
    return list(session.scalars(stmt))


def decided_of_kind(session: Session, job_id: int, kind: DisputeKind) -> dict[str, str]:
    """``subject key -> decision`` of the job's decided disputes of one kind (the latest per subject)."""
    stmt = (
        select(Dispute.subject_key, Dispute.decision)
        .where(Dispute.job_id == job_id, Dispute.kind == kind, Dispute.status == DisputeStatus.decided)
        .order_by(Dispute.decided_at, Dispute.id)
    )
    return {subject: decision or "" for subject, decision in session.execute(stmt)}
