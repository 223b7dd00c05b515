"""The SQL of the job board and of a job's progress: open jobs for a worker, counts per status,
submitted work, and each worker's share of a job."""

from __future__ import annotations

from typing import Any

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from marketplace.assignments.repository import is_postgres, team_admits
from marketplace.models import (
    Assignment,
    AssignmentItem,
    AssignmentStatus,
    Chunk,
    ChunkImage,
    ChunkStatus,
    Job,
    JobStatus,
    JobWorkerBan,
)


def open_jobs_for(session: Session, worker_id: int, *, limit: int) -> list[tuple[Job, int]]:
    """Active jobs the worker is not banned from (and, for a team's job, is a member of), with the
    number of free slots left."""
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
        .where(Job.status == JobStatus.active, ~banned, team_admits(worker_id, is_postgres(session)))
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


def work_by_worker(session: Session, job_id: int) -> dict[int, dict[str, Any]]:
    """Per worker of a job: assignments accepted and rejected, items answered (GT included: the
    worker could not tell) and the times they took (claim to submission) on submitted work."""
    items = (
        select(AssignmentItem.assignment_id, func.count().label("n"))
        .group_by(AssignmentItem.assignment_id)
        .subquery()
    )
    stmt = (
        select(
            Assignment.worker_id, Assignment.status, Assignment.created_at, Assignment.submitted_at, items.c.n
        )
        .join(items, items.c.assignment_id == Assignment.id)
        .where(Assignment.job_id == job_id, Assignment.submitted_at.is_not(None))
    )
    out: dict[int, dict[str, Any]] = {}
    for worker_id, status, claimed, submitted, n in session.execute(stmt).tuples():
        row = out.setdefault(worker_id, {"accepted": 0, "rejected": 0, "items": 0, "seconds": 0.0})
        if status in (AssignmentStatus.accepted, AssignmentStatus.rejected):
            row[status.value] += 1
        row["items"] += int(n)
        row["seconds"] += max(0.0, (submitted - claimed).total_seconds())
    return out
