"""The SQL of pipeline stages in sequence (:mod:`marketplace.flows.stage_sequence`): waiting chunks,
which images the stage before has finished, GT images not yet in use, and the images' context."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import case, exists, func, select, update
from sqlalchemy.orm import Session

from marketplace.models import Chunk, ChunkImage, ChunkStatus, GtImageStat, JobImage, PendingAnswer


def waiting_chunks(session: Session, job_id: int, limit: int = 500) -> dict[int, list[tuple[int, str]]]:
    """Waiting chunks of a stage in sequence: chunk id → its images (id, name)."""
    chunk_ids = select(Chunk.id).where(Chunk.job_id == job_id, Chunk.status == ChunkStatus.waiting)
    stmt = (
        select(ChunkImage.chunk_id, JobImage.id, JobImage.name)
        .join(JobImage, JobImage.id == ChunkImage.image_id)
        .where(ChunkImage.chunk_id.in_(chunk_ids.order_by(Chunk.id).limit(limit).scalar_subquery()))
        .order_by(ChunkImage.chunk_id, ChunkImage.position)
    )
    out: dict[int, list[tuple[int, str]]] = {}
    for chunk_id, image_id, name in session.execute(stmt).tuples():
        out.setdefault(int(chunk_id), []).append((int(image_id), str(name)))
    return out


def finished_image_names(session: Session, job_id: int, names: Sequence[str]) -> set[str]:
    """Which of these data images of a job are done: every chunk holding one is done (at least one),
    and no extra answer on it is pending (dynamic overlap)."""
    if not names:
        return set()
    pending = exists().where(PendingAnswer.image_id == JobImage.id)
    stmt = (
        select(JobImage.name)
        .join(ChunkImage, ChunkImage.image_id == JobImage.id)
        .join(Chunk, Chunk.id == ChunkImage.chunk_id)
        .where(JobImage.job_id == job_id, JobImage.name.in_(list(names)), ~pending)
        .group_by(JobImage.name)
        .having(func.min(case((Chunk.status == ChunkStatus.done, 1), else_=0)) == 1)
    )
    return {str(n) for n in session.scalars(stmt)}


def lock_waiting_chunks(session: Session, chunk_ids: Sequence[int]) -> list[Chunk]:
    """These chunks, locked (skipping any another transaction holds), still waiting."""
    stmt = (
        select(Chunk)
        .where(Chunk.id.in_(list(chunk_ids)), Chunk.status == ChunkStatus.waiting)
        .order_by(Chunk.id)
        .with_for_update(skip_locked=True)
    )
    return list(session.scalars(stmt))


def gt_images_not_in_use(session: Session, job_id: int) -> dict[int, str]:
    """A job's GT images not yet mixed into assignments (no usage statistics): id → name."""
    in_use = exists().where(GtImageStat.image_id == JobImage.id)
    stmt = select(JobImage.id, JobImage.name).where(
        JobImage.job_id == job_id, JobImage.is_gt.is_(True), ~in_use
    )
    return {int(i): str(n) for i, n in session.execute(stmt).tuples()}


def set_context(session: Session, context: dict[int, list[dict[str, Any]]]) -> None:
    """Earlier stages' objects per image id (``JobImage.context``), in one statement."""
    if context:
        session.execute(update(JobImage), [{"id": i, "context": objects} for i, objects in context.items()])
