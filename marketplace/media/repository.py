"""SQL of the media domain: what a file link names, whether it may still be read, and renditions."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from marketplace.models import (
    Assignment,
    AssignmentItem,
    Job,
    JobImage,
    JobStatus,
    JobVideo,
    Rendition,
    VideoSegment,
    utcnow,
)


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


# -- videos ---------------------------------------------------------------------------------------


def video_item_chunks(session: Session, token: str) -> Any:
    """``(chunk_keys, chunk_frames, start_frame, end_frame, status, deadline)`` behind the video item
    ``token``: its video's frame chunks and its segment's frames (``chunk_keys`` None before ingest)."""
    stmt = (
        select(
            JobVideo.chunk_keys,
            JobVideo.chunk_frames,
            VideoSegment.start_frame,
            VideoSegment.end_frame,
            Assignment.status,
            Assignment.deadline,
        )
        .select_from(AssignmentItem)
        .join(Assignment, Assignment.id == AssignmentItem.assignment_id)
        .join(VideoSegment, VideoSegment.chunk_id == Assignment.chunk_id)
        .join(JobVideo, JobVideo.image_id == VideoSegment.image_id)
        .where(AssignmentItem.token == token)
    )
    return session.execute(stmt).first()


def video_chunk_keys(session: Session, image_id: int) -> list[str] | None:
    """The frame chunks' storage keys of a video (None: no such video, or not ingested yet)."""
    keys = session.execute(select(JobVideo.chunk_keys).where(JobVideo.image_id == image_id)).scalar()
    return list(keys) if keys else None


def videos_not_ingested(session: Session, job_id: int) -> list[tuple[int, str, int]]:
    """``(image id, name, probed frame count)`` of the job's videos not ingested yet, in id order."""
    stmt = (
        select(JobVideo.image_id, JobImage.name, JobVideo.frame_count)
        .join(JobImage, JobImage.id == JobVideo.image_id)
        .where(JobVideo.job_id == job_id, JobVideo.manifest_key.is_(None))
        .order_by(JobVideo.image_id)
    )
    return [(int(i), str(n), int(f)) for i, n, f in session.execute(stmt)]


def set_video_ingested(session: Session, image_id: int, values: dict[str, Any]) -> None:
    """Record a video's ingest; a concurrent run that recorded one first keeps its own."""
    session.execute(
        update(JobVideo)
        .where(JobVideo.image_id == image_id, JobVideo.manifest_key.is_(None))
        .values(**values)
    )


def count_ingested_videos(session: Session, job_id: int) -> int:
    stmt = select(func.count()).where(JobVideo.job_id == job_id, JobVideo.manifest_key.is_not(None))
    return int(session.scalar(stmt) or 0)


def forget_video_ingests(session: Session, job_id: int) -> None:
    session.execute(
        update(JobVideo)
        .where(JobVideo.job_id == job_id)
        .values(
            manifest_key=None,
            chunk_keys=None,
            chunk_frames=None,
            frame_width=None,
            frame_height=None,
            scale=None,
        )
    )
