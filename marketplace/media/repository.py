"""SQL of the media domain: what a file link names, and whether it may still be read."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from marketplace.models import Assignment, AssignmentItem, Job, JobImage


def item_file(session: Session, token: str) -> Any:
    """``(data_uri, name, status, deadline)`` of the assignment item ``token`` (one indexed lookup)."""
    stmt = (
        select(Job.data_uri, JobImage.name, Assignment.status, Assignment.deadline)
        .select_from(AssignmentItem)
        .join(Assignment, Assignment.id == AssignmentItem.assignment_id)
        .join(JobImage, JobImage.id == AssignmentItem.image_id)
        .join(Job, Job.id == Assignment.job_id)
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
