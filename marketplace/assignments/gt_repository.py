"""SQL of what fills an assignment's GT slots: picking GT images, their exposure counts and use
counts, and the extra work a freed slot carries."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any, cast

from sqlalchemy import Integer, Row, Table, bindparam, case, distinct, exists, func, or_, select, update
from sqlalchemy.orm import Session

from marketplace.assignments.repository import seen_by
from marketplace.models import (
    Assignment,
    AssignmentItem,
    Chunk,
    ChunkImage,
    ChunkStatus,
    GtAnnotation,
    GtImageStat,
    JobImage,
)

GT_STATS = cast(Table, GtImageStat.__table__)


def _gt_seen_query(job_id: Any, worker_id: Any) -> Any:
    return seen_by(job_id, worker_id).where(AssignmentItem.is_gt.is_(True))


def pick_gt(
    session: Session,
    job_id: int,
    worker_id: int,
    k: int,
    *,
    reused: bool = False,
    skip: Sequence[int] = (),
    like: int | None = None,
) -> list[int]:
    """The ``k`` best GT images for this worker: unseen by them first, then least used, then (``like``:
    a work image of the assignment) of a size like that image's (pixel count within a factor of 2),
    at random among equals; never retired. ``reused``: only images already shown to someone and never
    to this worker (fewer when there are not enough). No lock: the use counts only balance the picking,
    and :func:`count_gt_uses` (the last write of a claim) keeps them exact."""
    return list(session.scalars(gt_pick_query(job_id, worker_id, k, reused=reused, skip=skip, like=like)))


def gt_pick_query(
    job_id: Any,
    worker_id: Any,
    k: Any,
    *,
    reused: bool = False,
    skip: Sequence[int] = (),
    like: Any = None,
) -> Any:
    """:func:`pick_gt` as a query; ``like`` may be an SQL expression (a scalar subquery)."""
    seen = _gt_seen_query(job_id, worker_id)
    stmt = select(GtImageStat.image_id).where(GtImageStat.job_id == job_id, GtImageStat.retired_at.is_(None))
    if skip:
        stmt = stmt.where(GtImageStat.image_id.not_in(list(skip)))
    if reused:
        stmt = stmt.where(GtImageStat.uses > 0, GtImageStat.image_id.not_in(seen))
    else:
        stmt = stmt.order_by(case((GtImageStat.image_id.in_(seen), 1), else_=0))
    stmt = stmt.order_by(GtImageStat.uses)
    if like is not None:
        size = select(JobImage.width * JobImage.height).where(JobImage.id == like).scalar_subquery()
        pixels = JobImage.width * JobImage.height
        stmt = stmt.join(JobImage, JobImage.id == GtImageStat.image_id)
        stmt = stmt.order_by(case((or_(pixels > 2 * size, pixels * 2 < size), 1), else_=0))
    return stmt.order_by(func.random()).limit(k)


def gt_exposure_columns(job_id: Any) -> tuple[Any, Any]:
    """:func:`gt_exposure` as two scalar subqueries, for a statement that needs more."""
    shows = select(func.coalesce(func.sum(GtImageStat.uses), 0)).where(GtImageStat.job_id == job_id)
    images = select(func.count()).where(GtImageStat.job_id == job_id, GtImageStat.uses > 0)
    return shows.scalar_subquery(), images.scalar_subquery()


def work_exposure_columns(job_id: Any) -> tuple[Any, Any]:
    """:func:`work_exposure` as two scalar subqueries."""
    base = (
        select(AssignmentItem.image_id)
        .join(Assignment, Assignment.id == AssignmentItem.assignment_id)
        .where(Assignment.job_id == job_id, AssignmentItem.is_gt.is_(False))
        .subquery()
    )
    return (
        select(func.count()).select_from(base).scalar_subquery(),
        select(func.count(distinct(base.c.image_id))).scalar_subquery(),
    )


def gt_exposure(session: Session, job_id: int) -> tuple[int, int]:
    """(times the job's GT images were shown, how many of them were shown at least once)."""
    stmt = select(
        func.coalesce(func.sum(GtImageStat.uses), 0), func.count().filter(GtImageStat.uses > 0)
    ).where(GtImageStat.job_id == job_id)
    shows, images = session.execute(stmt).one()
    return int(shows), int(images)


def work_exposure(session: Session, job_id: int) -> tuple[int, int]:
    """(times the job's work images were put in an assignment, how many distinct ones were): a scan of
    the job's assignment items."""
    stmt = (
        select(func.count(), func.count(distinct(AssignmentItem.image_id)))
        .join(Assignment, Assignment.id == AssignmentItem.assignment_id)
        .where(Assignment.job_id == job_id, AssignmentItem.is_gt.is_(False))
    )
    shows, images = session.execute(stmt).one()
    return int(shows), int(images)


def pick_extra(session: Session, job_id: int, worker_id: int, k: int) -> list[int]:
    """``k`` random work images of the job's finished chunks that this worker has never been shown:
    the real work a trusted worker does in the GT slots they no longer need (one more answer each)."""
    if k <= 0:
        return []
    stmt = (
        select(ChunkImage.image_id)
        .join(Chunk, Chunk.id == ChunkImage.chunk_id)
        .where(
            Chunk.job_id == job_id,
            Chunk.status == ChunkStatus.done,
            ChunkImage.image_id.not_in(seen_by(job_id, worker_id)),
        )
        .order_by(func.random())
        .limit(k)
    )
    return list(session.scalars(stmt))


def count_gt_uses(session: Session, image_ids: Sequence[int]) -> None:
    """Count one more use of each image. The rows are locked in id order by the subquery (no deadlock
    between concurrent claims) and stay locked only until the claim commits: call it last."""
    if image_ids:
        t = GT_STATS
        ordered = (
            select(t.c.image_id)
            .where(t.c.image_id.in_(sorted(image_ids)))
            .order_by(t.c.image_id)
            .with_for_update(key_share=True)
        )
        session.execute(update(t).where(t.c.image_id.in_(ordered)).values(uses=t.c.uses + 1))


def scoring_rows(session: Session, assignment_id: int) -> list[Row[Any]]:
    """What scoring an assignment reads, in one statement: its GT items whose image is not retired
    (token, answer, image id and size), in display order, each once per GT object of its image
    (``label``/``geometry``, by object id; None when the image has none)."""
    return list(session.execute(_scoring_rows_statement(), {"p_assignment": assignment_id}))


@cache
def _scoring_rows_statement() -> Any:
    """:func:`scoring_rows`'s statement, built once (its value a bound parameter)."""
    retired = exists().where(GtImageStat.image_id == JobImage.id, GtImageStat.retired_at.is_not(None))
    assignment_id = bindparam("p_assignment", type_=Integer)
    return (
        select(
            AssignmentItem.token,
            AssignmentItem.answer,
            JobImage.id.label("image_id"),
            JobImage.width,
            JobImage.height,
            GtAnnotation.id.label("object_id"),
            GtAnnotation.label,
            GtAnnotation.geometry,
        )
        .join(JobImage, JobImage.id == AssignmentItem.image_id)
        .outerjoin(GtAnnotation, GtAnnotation.image_id == JobImage.id)
        .where(AssignmentItem.assignment_id == assignment_id, AssignmentItem.is_gt.is_(True), ~retired)
        .order_by(AssignmentItem.position, GtAnnotation.id)
    )
