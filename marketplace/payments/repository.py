"""SQL of fundings, the inbox, chain cursors and SIWE nonces."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from marketplace.models import ChainCursor, InboxEvent, InboxStatus, JobFunding, PayoutDestination, SiweNonce


def funding_for_job(session: Session, job_id: int, *, lock: bool = False) -> JobFunding | None:
    stmt = select(JobFunding).where(JobFunding.job_id == job_id)
    if lock:
        stmt = stmt.with_for_update()
    return session.scalars(stmt).first()


def funding_by_intent(session: Session, pi_id: str, *, lock: bool = False) -> JobFunding | None:
    stmt = select(JobFunding).where(JobFunding.stripe_payment_intent_id == pi_id)
    if lock:
        stmt = stmt.with_for_update()
    return session.scalars(stmt).first()


def funding_by_chain_id(session: Session, chain_job_id: str, *, lock: bool = False) -> JobFunding | None:
    stmt = select(JobFunding).where(JobFunding.chain_job_id == chain_job_id.lower())
    if lock:
        stmt = stmt.with_for_update()
    return session.scalars(stmt).first()


def insert_inbox(
    session: Session,
    *,
    source: str,
    external_id: str,
    type_: str,
    payload: dict,
    block_number: int | None = None,
) -> int | None:
    """Insert an inbox row unless ``(source, external_id)`` exists; returns the new id or None."""
    values = {
        "source": source,
        "external_id": external_id,
        "type": type_,
        "payload": payload,
        "block_number": block_number,
        "status": InboxStatus.pending,
        "note": "",
    }
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    from marketplace.models import utcnow

    stmt = (
        insert(InboxEvent)
        .values(**values, received_at=utcnow())
        .on_conflict_do_nothing(index_elements=["source", "external_id"])
        .returning(InboxEvent.id)
    )
    return session.scalar(stmt)


def lock_inbox(session: Session, inbox_id: int) -> InboxEvent | None:
    return session.scalars(
        select(InboxEvent).where(InboxEvent.id == inbox_id).with_for_update(skip_locked=True)
    ).first()


def pending_inbox_ids(session: Session, source: str, limit: int = 500) -> list[int]:
    return list(
        session.scalars(
            select(InboxEvent.id)
            .where(InboxEvent.source == source, InboxEvent.status == InboxStatus.pending)
            .order_by(InboxEvent.id)
            .limit(limit)
        )
    )


def lock_cursor(session: Session, name: str, start: int) -> ChainCursor:
    cursor = session.scalars(select(ChainCursor).where(ChainCursor.name == name).with_for_update()).first()
    if cursor is None:
        cursor = ChainCursor(name=name, block=start - 1)
        session.add(cursor)
        session.flush()
    return cursor


def add(session: Session, *rows: object) -> None:
    session.add_all(rows)
    session.flush()


def open_nonce(session: Session, nonce: str) -> SiweNonce | None:
    return session.scalars(select(SiweNonce).where(SiweNonce.nonce == nonce).with_for_update()).first()


def destination(session: Session, user_id: int, rail: str) -> PayoutDestination | None:
    return session.scalars(
        select(PayoutDestination).where(PayoutDestination.user_id == user_id, PayoutDestination.rail == rail)
    ).first()


def destination_taken(session: Session, rail: str, dest: str, user_id: int) -> bool:
    return (
        session.scalar(
            select(PayoutDestination.id).where(
                PayoutDestination.rail == rail,
                PayoutDestination.destination == dest,
                PayoutDestination.user_id != user_id,
            )
        )
        is not None
    )
