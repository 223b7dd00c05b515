"""The SQL of hidden checks coming back to the QA workers who raised issues on them
(:mod:`marketplace.pipelines.checks`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, insert, or_, select
from sqlalchemy.orm import Session

from marketplace.models import ItemEvent, ItemIssue, PipelineItem, QaCheck


def check_of(session: Session, item_id: int, worker_id: int, *, for_update: bool = False) -> QaCheck | None:
    """A QA worker's decision on a hidden check, if they decided it."""
    stmt = select(QaCheck).where(QaCheck.item_id == item_id, QaCheck.worker_id == worker_id)
    return session.scalars(stmt.with_for_update() if for_update else stmt).first()


def held_return(session: Session, worker_id: int, now: datetime) -> QaCheck | None:
    """The hidden check that came back to this QA worker and that they hold now."""
    stmt = select(QaCheck).where(QaCheck.worker_id == worker_id, QaCheck.held_until > now)
    return session.scalars(stmt.order_by(QaCheck.id).limit(1)).first()


def due_return(
    session: Session, pipeline_ids: Sequence[int], worker_id: int, now: datetime
) -> QaCheck | None:
    """A hidden check due back to this QA worker (or whose return hold lapsed), locked."""
    if not pipeline_ids:
        return None
    stmt = (
        select(QaCheck)
        .where(
            QaCheck.worker_id == worker_id,
            QaCheck.pipeline_id.in_(pipeline_ids),
            QaCheck.returns_at <= now,
            or_(QaCheck.held_until.is_(None), QaCheck.held_until <= now),
        )
        .order_by(QaCheck.returns_at, QaCheck.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    return session.scalars(stmt).first()


def pending_returns(session: Session, pipeline_id: int, worker_id: int | None = None) -> list[QaCheck]:
    """Hidden checks of a pipeline on their way back to a QA worker (one, or anyone), or back with
    them, locked."""
    stmt = select(QaCheck).where(QaCheck.pipeline_id == pipeline_id, QaCheck.returns_at.is_not(None))
    if worker_id is not None:
        stmt = stmt.where(QaCheck.worker_id == worker_id)
    return list(session.scalars(stmt.order_by(QaCheck.id).with_for_update()))


def next_issue_ids(session: Session, n: int, placeholder: ItemIssue) -> list[int]:
    """``n`` ids from the issues' own ids (issues on a hidden check get ids like any issue's). On
    PostgreSQL drawn from the sequence; elsewhere (SQLite, the embedded default) rows like
    ``placeholder`` are inserted and deleted again, so a later issue may reuse such an id there."""
    if session.get_bind().dialect.name == "postgresql":
        stmt = select(func.nextval("pipeline_issues_id_seq")).select_from(func.generate_series(1, n))
        return [int(i) for i in session.scalars(stmt)]
    values = {c: getattr(placeholder, c) for c in ("item_id", "work_id", "raised_by", "comment", "due_at")}
    ids = [
        int(session.execute(insert(ItemIssue).values(**values).returning(ItemIssue.id)).scalar_one())
        for _ in range(n)
    ]
    session.execute(delete(ItemIssue).where(ItemIssue.id.in_(ids)))
    return ids


def fix_times(session: Session, pipeline_id: int, limit: int = 200) -> list[float]:
    """Seconds from an issue raised (or reopened) on a data item to the item back "for review", the
    pipeline's latest ``limit``."""
    stmt = (
        select(ItemEvent.item_id, ItemEvent.event, ItemEvent.at)
        .join(PipelineItem, PipelineItem.id == ItemEvent.item_id)
        .where(
            PipelineItem.pipeline_id == pipeline_id,
            PipelineItem.is_check.is_(False),
            ItemEvent.event.in_(("issue", "reopen", "for_review")),
        )
        .order_by(ItemEvent.id.desc())
        .limit(4 * limit)
    )
    back: dict[int, datetime] = {}
    out: list[float] = []
    for item_id, event, at in session.execute(stmt).tuples():  # newest first
        if event == "for_review":
            back[item_id] = at
        elif item_id in back:
            out.append((back.pop(item_id) - at).total_seconds())
    return out[:limit]
