"""All SQL of the assignment server."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import case, exists, func, insert, literal, select, update
from sqlalchemy.orm import Session

from marketplace.models import (
    Assignment,
    AssignmentItem,
    AssignmentStatus,
    Chunk,
    ChunkImage,
    ChunkStatus,
    GtAnnotation,
    GtImageStat,
    Job,
    JobImage,
    JobStatus,
    JobWorkerBan,
)

INSERT_BATCH = 5000


def begin_write(session: Session) -> None:
    """Take the database write lock now on SQLite (``BEGIN IMMEDIATE``).

    SQLite serialises writers; taking the lock before the first read makes a claim's reads and writes
    one atomic step (a deferred transaction could read, lose the race and fail on its first write).
    On PostgreSQL this does nothing: row locks (``FOR UPDATE SKIP LOCKED``) do the job there.

    Row locks here are ``FOR NO KEY UPDATE`` (``key_share=True``): exclusive among ourselves, but not
    blocking the ``KEY SHARE`` locks that foreign-key checks take when an assignment row is inserted
    (a plain ``FOR UPDATE`` on the job deadlocked against concurrent claims that way).
    """
    conn = session.connection()
    if conn.dialect.name != "sqlite":
        return
    raw = conn.connection.driver_connection
    if raw is not None and not raw.in_transaction:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


# -- opening a job --------------------------------------------------------------------------------


def job_has_chunks(session: Session, job_id: int) -> bool:
    return bool(session.scalar(select(exists().where(Chunk.job_id == job_id))))


def image_ids(session: Session, job_id: int, *, gt: bool) -> list[int]:
    stmt = select(JobImage.id).where(JobImage.job_id == job_id, JobImage.is_gt.is_(gt)).order_by(JobImage.id)
    return list(session.scalars(stmt))


def add_chunks(session: Session, job_id: int, count: int, overlap: int) -> list[int]:
    """Insert ``count`` open chunks; return their ids in position order."""
    rows = [
        {
            "job_id": job_id,
            "position": p,
            "status": ChunkStatus.open,
            "free_slots": overlap,
            "accepted_count": 0,
            "rejected_count": 0,
        }
        for p in range(count)
    ]
    for start in range(0, len(rows), INSERT_BATCH):
        session.execute(insert(Chunk), rows[start : start + INSERT_BATCH])
    return list(session.scalars(select(Chunk.id).where(Chunk.job_id == job_id).order_by(Chunk.position)))


def add_rows(session: Session, model: Any, rows: Sequence[dict[str, Any]]) -> None:
    for start in range(0, len(rows), INSERT_BATCH):
        session.execute(insert(model), list(rows[start : start + INSERT_BATCH]))


# -- claiming -------------------------------------------------------------------------------------


def get_job(session: Session, job_id: int) -> Job | None:
    return session.get(Job, job_id)


def lock_job(session: Session, job_id: int) -> Job | None:
    return session.scalar(select(Job).where(Job.id == job_id).with_for_update(key_share=True))


def is_banned(session: Session, job_id: int, worker_id: int) -> bool:
    stmt = select(exists().where(JobWorkerBan.job_id == job_id, JobWorkerBan.worker_id == worker_id))
    return bool(session.scalar(stmt))


def active_assignment(session: Session, job_id: int, worker_id: int) -> Assignment | None:
    return session.scalar(
        select(Assignment).where(
            Assignment.job_id == job_id,
            Assignment.worker_id == worker_id,
            Assignment.status == AssignmentStatus.assigned,
        )
    )


def lock_overdue(
    session: Session, now: datetime, *, job_id: int | None = None, limit: int = 500
) -> list[Assignment]:
    """Assigned assignments past their deadline, locked; rows another transaction holds are skipped."""
    stmt = (
        select(Assignment)
        .where(Assignment.status == AssignmentStatus.assigned, Assignment.deadline <= now)
        .order_by(Assignment.id)
        .limit(limit)
        .with_for_update(skip_locked=True, key_share=True)
    )
    if job_id is not None:
        stmt = stmt.where(Assignment.job_id == job_id)
    return list(session.scalars(stmt))


def lock_chunk(session: Session, chunk_id: int) -> Chunk:
    chunk = session.scalar(
        select(Chunk)
        .where(Chunk.id == chunk_id)
        .with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    )
    assert chunk is not None
    return chunk


def lock_next_chunk(session: Session, job_id: int, worker_id: int) -> Chunk | None:
    """The first open chunk of the job this worker never held, locked; chunks being claimed by
    someone else right now are skipped instead of waited for."""
    held_before = exists().where(Assignment.chunk_id == Chunk.id, Assignment.worker_id == worker_id)
    stmt = (
        select(Chunk)
        .where(Chunk.job_id == job_id, Chunk.status == ChunkStatus.open, Chunk.free_slots > 0, ~held_before)
        .order_by(Chunk.position)
        .limit(1)
        .with_for_update(skip_locked=True, key_share=True)
    )
    return session.scalar(stmt)


def chunk_image_ids(session: Session, chunk_id: int) -> list[int]:
    stmt = select(ChunkImage.image_id).where(ChunkImage.chunk_id == chunk_id).order_by(ChunkImage.position)
    return list(session.scalars(stmt))


def gt_candidates(session: Session, job_id: int) -> list[tuple[int, int]]:
    """(image id, uses) of every GT image of the job that is not retired."""
    stmt = select(GtImageStat.image_id, GtImageStat.uses).where(
        GtImageStat.job_id == job_id, GtImageStat.retired_at.is_(None)
    )
    return [(image_id, uses) for image_id, uses in session.execute(stmt)]


def gt_seen_by(session: Session, job_id: int, worker_id: int) -> set[int]:
    stmt = (
        select(AssignmentItem.image_id)
        .join(Assignment, Assignment.id == AssignmentItem.assignment_id)
        .where(Assignment.job_id == job_id, Assignment.worker_id == worker_id, AssignmentItem.is_gt.is_(True))
    )
    return set(session.scalars(stmt))


def lock_free_gt(session: Session, job_id: int, seen: set[int], k: int) -> list[int]:
    """PostgreSQL only: the ``k`` best GT images (unseen by the worker, least used, random among
    equals) among those no concurrent claim holds, locked. Returns [] (locks released) when fewer
    than ``k`` are free, so the caller can fall back to waiting in id order."""
    if session.get_bind().dialect.name != "postgresql":
        return []
    seen_last = case((GtImageStat.image_id.in_(seen), 1), else_=0) if seen else literal(0)
    stmt = (
        select(GtImageStat.image_id)
        .where(GtImageStat.job_id == job_id, GtImageStat.retired_at.is_(None))
        .order_by(seen_last, GtImageStat.uses, func.random())
        .limit(k)
        .with_for_update(skip_locked=True, key_share=True)
    )
    savepoint = session.begin_nested()
    picked = list(session.scalars(stmt))
    if len(picked) < k:
        savepoint.rollback()
        return []
    savepoint.commit()
    return picked


def lock_gt_rows(session: Session, image_ids: Sequence[int]) -> None:
    """Wait for the rows in id order (no deadlock between concurrent claims)."""
    if image_ids:
        session.execute(
            select(GtImageStat.image_id)
            .where(GtImageStat.image_id.in_(sorted(image_ids)))
            .order_by(GtImageStat.image_id)
            .with_for_update(key_share=True)
        ).all()


def count_gt_uses(session: Session, image_ids: Sequence[int]) -> None:
    """Count one more use of each image (its row is already locked by this transaction)."""
    if image_ids:
        session.execute(
            update(GtImageStat)
            .where(GtImageStat.image_id.in_(list(image_ids)))
            .values(uses=GtImageStat.uses + 1)
        )


def add_assignment(session: Session, assignment: Assignment) -> Assignment:
    session.add(assignment)
    session.flush()
    return assignment


# -- reading assignments --------------------------------------------------------------------------


def get_assignment(session: Session, assignment_id: int, *, for_update: bool = False) -> Assignment | None:
    if not for_update:
        return session.get(Assignment, assignment_id)
    return session.scalar(
        select(Assignment)
        .where(Assignment.id == assignment_id)
        .with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    )


def items_with_images(session: Session, assignment_id: int) -> list[tuple[AssignmentItem, JobImage]]:
    stmt = (
        select(AssignmentItem, JobImage)
        .join(JobImage, JobImage.id == AssignmentItem.image_id)
        .where(AssignmentItem.assignment_id == assignment_id)
        .order_by(AssignmentItem.position)
    )
    return [(item, image) for item, image in session.execute(stmt).tuples()]


def gt_annotations_for(session: Session, image_ids: Sequence[int]) -> list[GtAnnotation]:
    if not image_ids:
        return []
    stmt = select(GtAnnotation).where(GtAnnotation.image_id.in_(list(image_ids))).order_by(GtAnnotation.id)
    return list(session.scalars(stmt))


def unfinished_chunks(session: Session, job_id: int) -> int:
    stmt = (
        select(func.count())
        .select_from(Chunk)
        .where(Chunk.job_id == job_id, Chunk.status != ChunkStatus.done)
    )
    return int(session.scalar(stmt) or 0)


def my_assignments(
    session: Session, worker_id: int, *, limit: int, offset: int
) -> list[tuple[Assignment, Job]]:
    stmt = (
        select(Assignment, Job)
        .join(Job, Job.id == Assignment.job_id)
        .where(Assignment.worker_id == worker_id)
        .order_by(Assignment.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return [(a, j) for a, j in session.execute(stmt).tuples()]


# -- job board and progress -----------------------------------------------------------------------


def open_jobs_for(session: Session, worker_id: int, *, limit: int) -> list[tuple[Job, int]]:
    """Active jobs the worker is not banned from, with the number of free slots left."""
    banned = exists().where(JobWorkerBan.job_id == Job.id, JobWorkerBan.worker_id == worker_id)
    free = (
        select(Chunk.job_id, func.sum(Chunk.free_slots).label("free"))
        .where(Chunk.status == ChunkStatus.open)
        .group_by(Chunk.job_id)
        .subquery()
    )
    stmt = (
        select(Job, free.c.free)
        .join(free, free.c.job_id == Job.id)
        .where(Job.status == JobStatus.active, ~banned)
        .order_by(Job.id)
        .limit(limit)
    )
    return [(job, int(n or 0)) for job, n in session.execute(stmt).tuples()]


def chunk_status_counts(session: Session, job_id: int) -> dict[str, int]:
    stmt = select(Chunk.status, func.count()).where(Chunk.job_id == job_id).group_by(Chunk.status)
    return {str(status.value): int(n) for status, n in session.execute(stmt).tuples()}


def assignment_status_counts(session: Session, job_id: int) -> dict[str, int]:
    stmt = (
        select(Assignment.status, func.count()).where(Assignment.job_id == job_id).group_by(Assignment.status)
    )
    return {str(status.value): int(n) for status, n in session.execute(stmt).tuples()}


def images_in_done_chunks(session: Session, job_id: int) -> int:
    stmt = (
        select(func.count())
        .select_from(ChunkImage)
        .join(Chunk, Chunk.id == ChunkImage.chunk_id)
        .where(Chunk.job_id == job_id, Chunk.status == ChunkStatus.done)
    )
    return int(session.scalar(stmt) or 0)


def submitted_assignments(session: Session, job_id: int) -> list[tuple[Assignment, int]]:
    stmt = (
        select(Assignment, Chunk.position)
        .join(Chunk, Chunk.id == Assignment.chunk_id)
        .where(Assignment.job_id == job_id, Assignment.submitted_at.is_not(None))
        .order_by(Assignment.id)
    )
    return [(a, p) for a, p in session.execute(stmt).tuples()]
