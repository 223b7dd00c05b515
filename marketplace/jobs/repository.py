from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from marketplace.models import GtAnnotation, Job, JobImage, JobStatus, JobVideo

INSERT_BATCH = 5000


def add_job(session: Session, job: Job) -> Job:
    session.add(job)
    session.flush()
    return job


def get_job(session: Session, job_id: int, *, for_update: bool = False) -> Job | None:
    if for_update:
        return session.scalar(select(Job).where(Job.id == job_id).with_for_update())
    return session.get(Job, job_id)


def list_jobs(session: Session, *, requester_id: int | None, limit: int, offset: int) -> list[Job]:
    stmt = select(Job).order_by(Job.id.desc()).limit(limit).offset(offset)
    if requester_id is not None:
        stmt = stmt.where(Job.requester_id == requester_id)
    return list(session.scalars(stmt))


def add_images(session: Session, job_id: int, rows: Sequence[dict[str, Any]]) -> dict[str, int]:
    """Bulk insert; returns name → id."""
    for start in range(0, len(rows), INSERT_BATCH):
        batch = [dict(r, job_id=job_id) for r in rows[start : start + INSERT_BATCH]]
        session.execute(insert(JobImage), batch)
    ids = session.execute(select(JobImage.name, JobImage.id).where(JobImage.job_id == job_id))
    return {name: image_id for name, image_id in ids}


def add_videos(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    for start in range(0, len(rows), INSERT_BATCH):
        session.execute(insert(JobVideo), list(rows[start : start + INSERT_BATCH]))


def add_gt_annotations(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    for start in range(0, len(rows), INSERT_BATCH):
        session.execute(insert(GtAnnotation), list(rows[start : start + INSERT_BATCH]))


def gt_annotations(session: Session, job_id: int) -> list[GtAnnotation]:
    return list(
        session.scalars(select(GtAnnotation).where(GtAnnotation.job_id == job_id).order_by(GtAnnotation.id))
    )


def jobs_after(session: Session, job_id: int) -> list[Job]:
    """The pipeline stages that run after this one, in sequence (``after_job_id``)."""
    return list(session.scalars(select(Job).where(Job.after_job_id == job_id).order_by(Job.id)))


def jobs_waiting_on_a_stage(session: Session) -> list[Job]:
    """Active stages in sequence (they may have chunks waiting for the stage before)."""
    stmt = select(Job).where(Job.after_job_id.is_not(None), Job.status == JobStatus.active).order_by(Job.id)
    return list(session.scalars(stmt))
