"""SQL of video segments: cutting a video job into them, and what a claim or a submission needs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from marketplace.models import Assignment, AssignmentItem, AssignmentStatus, JobImage, JobVideo, VideoSegment

INSERT_BATCH = 1000


def job_videos(session: Session, job_id: int) -> list[tuple[int, int]]:
    """``(image id, frame count)`` of the job's videos, in id order."""
    stmt = (
        select(JobVideo.image_id, JobVideo.frame_count)
        .where(JobVideo.job_id == job_id)
        .order_by(JobVideo.image_id)
    )
    return [(int(i), int(n)) for i, n in session.execute(stmt)]


def add_segments(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    for start in range(0, len(rows), INSERT_BATCH):
        session.execute(insert(VideoSegment), list(rows[start : start + INSERT_BATCH]))


def segment_of_assignment(session: Session, assignment_id: int) -> Any:
    """The segment an assignment issues and its video's serving form (None: not a video job)."""
    stmt = (
        select(
            VideoSegment.image_id,
            VideoSegment.start_frame,
            VideoSegment.end_frame,
            JobVideo.frame_count,
            JobVideo.fps,
            JobVideo.chunk_frames,
            JobVideo.frame_width,
            JobVideo.frame_height,
            JobVideo.scale,
        )
        .select_from(Assignment)
        .join(VideoSegment, VideoSegment.chunk_id == Assignment.chunk_id)
        .join(JobVideo, JobVideo.image_id == VideoSegment.image_id)
        .where(Assignment.id == assignment_id)
    )
    return session.execute(stmt).first()


def accepted_segment_answers(session: Session, job_id: int) -> list[Any]:
    """Every accepted answer of the job's segments: ``(image id, start, end, assignment id, worker id,
    answer)``,
    by video, segment and assignment."""
    stmt = (
        select(
            VideoSegment.image_id,
            VideoSegment.start_frame,
            VideoSegment.end_frame,
            Assignment.id.label("assignment_id"),
            Assignment.worker_id,
            AssignmentItem.answer,
        )
        .join(Assignment, Assignment.chunk_id == VideoSegment.chunk_id)
        .join(AssignmentItem, AssignmentItem.assignment_id == Assignment.id)
        .where(VideoSegment.job_id == job_id, Assignment.status == AssignmentStatus.accepted)
        .order_by(VideoSegment.image_id, VideoSegment.start_frame, Assignment.id)
    )
    return list(session.execute(stmt))


def videos_of_job(session: Session, job_id: int) -> list[Any]:
    """``(image_id, name, width, height, frame_count)`` of the job's videos, in id order."""
    stmt = (
        select(
            JobImage.id.label("image_id"),
            JobImage.name,
            JobImage.width,
            JobImage.height,
            JobVideo.frame_count,
        )
        .join(JobVideo, JobVideo.image_id == JobImage.id)
        .where(JobVideo.job_id == job_id)
        .order_by(JobImage.id)
    )
    return list(session.execute(stmt))


def segment_gt_of_assignment(session: Session, assignment_id: int) -> Any:
    """What scoring a video assignment needs: its segment's frames, its video's hidden GT (frames and
    tracks, NULL when the video has none), the worker's answer (the submitted tracks) and the video's
    original size (the tracks' pixels)."""
    stmt = (
        select(
            VideoSegment.start_frame,
            VideoSegment.end_frame,
            JobVideo.gt_frames,
            JobVideo.gt_tracks,
            AssignmentItem.answer,
            JobImage.width,
            JobImage.height,
        )
        .select_from(Assignment)
        .join(VideoSegment, VideoSegment.chunk_id == Assignment.chunk_id)
        .join(JobVideo, JobVideo.image_id == VideoSegment.image_id)
        .join(JobImage, JobImage.id == VideoSegment.image_id)
        .join(AssignmentItem, AssignmentItem.assignment_id == Assignment.id)
        .where(Assignment.id == assignment_id)
    )
    return session.execute(stmt).first()


def other_versions_of_segment(session: Session, assignment_id: int) -> list[Any]:
    """The other submitted, accepted or rejected answers on the same segment as an assignment:
    ``(assignment_id, worker_id, status, answer)``, in id order (what a reviewer compares)."""
    chunk = select(Assignment.chunk_id).where(Assignment.id == assignment_id).scalar_subquery()
    stmt = (
        select(
            Assignment.id.label("assignment_id"),
            Assignment.worker_id,
            Assignment.status,
            AssignmentItem.answer,
        )
        .join(AssignmentItem, AssignmentItem.assignment_id == Assignment.id)
        .where(
            Assignment.chunk_id == chunk,
            Assignment.id != assignment_id,
            Assignment.status.in_(
                [AssignmentStatus.submitted, AssignmentStatus.accepted, AssignmentStatus.rejected]
            ),
        )
        .order_by(Assignment.id)
    )
    return list(session.execute(stmt))
