"""SQL of the media domain: what a file link names, whether it may still be read, and renditions."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from marketplace.models import Assignment, AssignmentItem, Job, JobImage, JobStatus, Rendition, utcnow


def item_file(session: Session, token: str) -> Any:
    """``(key, status, deadline)`` of the rendition behind assignment item ``token`` (one indexed
    lookup); ``key`` is None when the image has no rendition."""
    stmt = (
        select(Rendition.key, Assignment.status, Assignment.deadline)
        .select_from(AssignmentItem)
        .join(Assignment, Assignment.id == AssignmentItem.assignment_id)
        .outerjoin(Rendition, Rendition.image_id == AssignmentItem.image_id)
        .where(AssignmentItem.token == token)
    )
    return session.execute(stmt).first()


def job_image_file(session: Session, image_id: int, job_id: int | None = None) -> Any:
    """``(data_uri, name)`` of a job image (of job ``job_id`` when given)."""
    stmt = (
        select(Job.data_uri, JobImage.name)
        .join(Job, Job.id == JobImage.job_id)
        .where(JobImage.id == image_id)
    )
    if job_id is not None:
        stmt = stmt.where(JobImage.job_id == job_id)
    return session.execute(stmt).first()


def images_without_rendition(session: Session, job_id: int) -> list[tuple[int, str, int, int]]:
    """``(image id, name, width, height)`` of the job's images without a rendition yet, in id order."""
    stmt = (
        select(JobImage.id, JobImage.name, JobImage.width, JobImage.height)
        .outerjoin(Rendition, Rendition.image_id == JobImage.id)
        .where(JobImage.job_id == job_id, Rendition.id.is_(None))
        .order_by(JobImage.id)
    )
    return [(int(i), str(n), int(w), int(h)) for i, n, w, h in session.execute(stmt)]


def add_renditions(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Insert renditions; an image that got one meanwhile (a concurrent ingest) keeps the first."""
    if not rows:
        return
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(insert(Rendition).values(list(rows)).on_conflict_do_nothing(index_elements=["image_id"]))


def count_renditions(session: Session, job_id: int) -> int:
    return int(session.scalar(select(func.count()).where(Rendition.job_id == job_id)) or 0)


def set_ingested_count(session: Session, job_id: int, count: int) -> None:
    """The job's progress; ``updated_at`` moves with it, so a stalled ingest can be told apart."""
    session.execute(update(Job).where(Job.id == job_id).values(ingested_count=count, updated_at=utcnow()))


def stalled_ingests(session: Session, before: datetime) -> list[int]:
    """Jobs still ``ingesting`` whose progress has not moved since ``before``."""
    stmt = select(Job.id).where(Job.status == JobStatus.ingesting, Job.updated_at < before).order_by(Job.id)
    return list(session.scalars(stmt))


def delete_renditions(session: Session, job_id: int) -> None:
    session.execute(delete(Rendition).where(Rendition.job_id == job_id))
