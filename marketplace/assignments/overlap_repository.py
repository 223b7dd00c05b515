"""SQL of dynamic overlap: the queue of images that need one more answer, and the extra chunks cut from it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from marketplace.models import (
    Assignment,
    AssignmentItem,
    AssignmentStatus,
    Chunk,
    ChunkImage,
    ChunkStatus,
    Job,
    PendingAnswer,
    utcnow,
)


def accepted_answers_on(session: Session, image_ids: Sequence[int]) -> list[tuple[int, int, Any]]:
    """(image id, worker id, answer) of accepted work on these (non-GT) images."""
    if not image_ids:
        return []
    stmt = (
        select(AssignmentItem.image_id, Assignment.worker_id, AssignmentItem.answer)
        .join(Assignment, Assignment.id == AssignmentItem.assignment_id)
        .where(
            AssignmentItem.image_id.in_(list(image_ids)),
            AssignmentItem.is_gt.is_(False),
            Assignment.status == AssignmentStatus.accepted,
        )
        .order_by(AssignmentItem.image_id, Assignment.id)
    )
    return [(i, w, a) for i, w, a in session.execute(stmt).tuples()]


def accepted_work(session: Session, job_id: int) -> tuple[int, int, int, int]:
    """(normal assignments, extra assignments, GT items, work items) of the job's accepted work."""
    extra = Chunk.overlap.is_not(None)
    per_assignment = (
        select(Assignment.id, extra.label("extra"))
        .join(Chunk, Chunk.id == Assignment.chunk_id)
        .where(Assignment.job_id == job_id, Assignment.status == AssignmentStatus.accepted)
        .subquery()
    )
    normal_n, extra_n = session.execute(
        select(
            func.count().filter(per_assignment.c.extra.is_(False)),
            func.count().filter(per_assignment.c.extra.is_(True)),
        )
    ).one()
    gt_n, work_n = session.execute(
        select(
            func.count().filter(AssignmentItem.is_gt.is_(True)),
            func.count().filter(AssignmentItem.is_gt.is_(False)),
        ).where(AssignmentItem.assignment_id.in_(select(per_assignment.c.id)))
    ).one()
    return int(normal_n), int(extra_n), int(gt_n), int(work_n)


def queue(session: Session, job_id: int, image_ids: Sequence[int]) -> None:
    """Put images in the job's queue for one more answer (an image already queued stays once)."""
    queued = set(session.scalars(select(PendingAnswer.image_id).where(PendingAnswer.image_id.in_(image_ids))))
    rows = [{"image_id": i, "job_id": job_id, "created_at": utcnow()} for i in image_ids if i not in queued]
    if rows:
        session.execute(insert(PendingAnswer), rows)


def pending(session: Session, job_id: int) -> list[int]:
    """The job's queued images, oldest first (call with the job locked)."""
    stmt = (
        select(PendingAnswer.image_id)
        .where(PendingAnswer.job_id == job_id)
        .order_by(PendingAnswer.created_at, PendingAnswer.image_id)
    )
    return list(session.scalars(stmt))


def pending_count(session: Session, job_id: int) -> int:
    return int(session.scalar(select(func.count()).where(PendingAnswer.job_id == job_id)) or 0)


def dequeue(session: Session, image_ids: Sequence[int]) -> None:
    if image_ids:
        session.execute(delete(PendingAnswer).where(PendingAnswer.image_id.in_(list(image_ids))))


def reserve_left(session: Session, job: Job) -> int:
    """Assignments the budget still has room for: every normal chunk ``overlap_cap`` times, minus what
    the normal chunks (``overlap`` each) and the extra chunks already take."""
    normal = func.count().filter(Chunk.overlap.is_(None))
    extra = func.coalesce(func.sum(Chunk.overlap), 0)
    normal_count, extra_slots = session.execute(select(normal, extra).where(Chunk.job_id == job.id)).one()
    return int(normal_count or 0) * (job.overlap_cap - job.overlap) - int(extra_slots or 0)


def add_extra_chunk(session: Session, job_id: int, image_ids: Sequence[int]) -> int:
    """One open chunk of these images, issued once (call with the job locked: it takes the next position)."""
    position = session.scalar(select(func.max(Chunk.position)).where(Chunk.job_id == job_id))
    chunk_id = session.execute(
        insert(Chunk)
        .values(
            job_id=job_id,
            position=(position or 0) + 1,
            status=ChunkStatus.open,
            free_slots=1,
            accepted_count=0,
            rejected_count=0,
            overlap=1,
        )
        .returning(Chunk.id)
    ).scalar_one()
    session.execute(
        insert(ChunkImage),
        [{"chunk_id": chunk_id, "position": p, "image_id": i} for p, i in enumerate(image_ids)],
    )
    return int(chunk_id)
