"""The SQL of a claim on PostgreSQL in two statements (issue 19): one takes a chunk's slot and reads
everything the assignment is made of, one writes the assignment, its items and the GT use counts.

Each is built from the same parts as the portable, one-query-per-step functions of
:mod:`.repository` and :mod:`.gt_repository` (which SQLite uses): data-modifying CTEs put the steps
in one round trip without changing what they do or the order in which rows are locked (the chunk by
the pick, SKIP LOCKED; the GT rows in id order, last, held until commit).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, partial
from typing import Any

from sqlalchemy import (
    Boolean,
    Integer,
    Select,
    String,
    bindparam,
    func,
    insert,
    select,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from marketplace.assignments import gt_repository
from marketplace.assignments.repository import GT_STATS, ITEMS, next_chunk_pick
from marketplace.assignments.states import take_slot_values
from marketplace.models import (
    Assignment,
    Chunk,
    ChunkImage,
    ChunkStatus,
    Job,
    JobImage,
    JobStatus,
    utcnow,
)


@dataclass(frozen=True)
class Taken:
    """A chunk slot just taken: the chunk's work images in order, the GT exposure so far, GT
    candidates (reused: shown to someone, never to this worker; fresh: the usual order), and, when
    asked for, the job's work exposure."""

    chunk_id: int
    real: list[int]
    gt_shows: int
    gt_distinct: int
    reused: list[int]
    fresh: list[int]
    work: tuple[int, int] | None


@cache
def _take_statement(with_gt: bool, work_exposure: bool) -> Select[Any]:
    """:func:`take_chunk`'s statement, built once per shape (its values are bound parameters): the
    building and cache-key walk of a statement this size cost more CPU than running it."""
    # (not named like a column of chunks: a parameter of that name would become a SET of the UPDATE)
    job_id, worker_id = bindparam("p_job", type_=Integer), bindparam("p_worker", type_=Integer)
    take = (
        update(Chunk)
        .where(Chunk.id == next_chunk_pick(job_id, worker_id))
        .values(**take_slot_values(bindparam("p_now")))
        .returning(Chunk.id)
        .cte("take")
    )
    in_chunk = select(ChunkImage.image_id).where(ChunkImage.chunk_id == take.c.id)
    like = in_chunk.order_by(func.random()).limit(1).scalar_subquery()
    columns: list[Any] = [
        take.c.id,
        func.array(in_chunk.order_by(ChunkImage.position).scalar_subquery()),
        *gt_repository.gt_exposure_columns(job_id),
    ]
    if with_gt:
        pick = partial(gt_repository.gt_pick_query, job_id, worker_id, like=like)
        reused, fresh = pick(bindparam("p_gt_k"), reused=True), pick(bindparam("p_gt_k2"))
        columns += [func.array(reused.scalar_subquery()), func.array(fresh.scalar_subquery())]
    if work_exposure:
        columns += gt_repository.work_exposure_columns(job_id)
    return select(*columns).select_from(take)


def take_chunk(
    session: Session, job_id: int, worker_id: int, gt_k: int, *, work_exposure: bool
) -> Taken | None:
    """Take a slot of the next chunk for this worker (:func:`.repository.take_next_chunk`) and, in the
    same statement, read its images, the GT exposure and up to ``gt_k`` reused and ``2 * gt_k`` fresh
    GT candidates (:func:`.gt_repository.pick_gt`, sized like a random image of the chunk).

    Nothing is locked but the chunk: the GT use counts are updated last, by :func:`issue`. (Locking
    the candidates with SKIP LOCKED instead, so that concurrent claims stop queueing on the same
    least-used rows, deadlocked under load: a claim holding some candidates waited for a row another
    one held, when the free ones ran short.)"""
    params = {"p_job": job_id, "p_worker": worker_id, "p_gt_k": gt_k, "p_gt_k2": 2 * gt_k, "p_now": utcnow()}
    stmt = _take_statement(gt_k > 0, work_exposure)
    row = session.execute(stmt, params).first()
    if row is None:
        return None
    rest = list(row[4:])
    reused_ids, fresh_ids = (rest.pop(0), rest.pop(0)) if gt_k > 0 else ([], [])
    return Taken(
        chunk_id=row[0],
        real=list(row[1] or []),
        gt_shows=int(row[2]),
        gt_distinct=int(row[3]),
        reused=list(reused_ids or []),
        fresh=list(fresh_ids or []),
        work=(int(rest[0]), int(rest[1])) if work_exposure else None,
    )


ASSIGNMENT_COLUMNS = ("job_id", "chunk_id", "worker_id", "status", "slot", "deadline", "created_at")


@cache
def _issue_statement(with_gt: bool) -> Select[Any]:
    """:func:`issue`'s statement, built once (values bound as ``p_``-named parameters, never named like
    a column: such a parameter would become a column value of the INSERT)."""
    values: dict[str, Any] = {column: bindparam(f"p_{column}") for column in ASSIGNMENT_COLUMNS}
    assignment = insert(Assignment).values(**values).returning(Assignment.id).cte("new_assignment")
    images = bindparam("p_images", type_=ARRAY(Integer))
    rows = (
        func.unnest(
            bindparam("p_positions", type_=ARRAY(Integer)),
            bindparam("p_tokens", type_=ARRAY(String)),
            images,
            bindparam("p_gt", type_=ARRAY(Boolean)),
        )
        .table_valued("position", "token", "image_id", "is_gt")
        .render_derived()
    )
    add_items = (
        insert(ITEMS)
        .from_select(
            ["assignment_id", "position", "token", "image_id", "is_gt"],
            select(assignment.c.id, rows.c.position, rows.c.token, rows.c.image_id, rows.c.is_gt)
            .select_from(assignment)
            .join(rows, true()),
        )
        .cte("new_items")
    )
    stmt = (
        select(
            assignment.c.id,
            JobImage.id.label("image_id"),
            JobImage.name,
            JobImage.width,
            JobImage.height,
            JobImage.context,
        )
        .select_from(assignment)
        .outerjoin(JobImage, JobImage.id == func.any(images))
        .add_cte(add_items)
    )
    if with_gt:
        ordered = (
            select(GT_STATS.c.image_id)
            .where(GT_STATS.c.image_id == func.any(bindparam("p_gt_ids", type_=ARRAY(Integer))))
            .order_by(GT_STATS.c.image_id)
            .with_for_update(key_share=True)
        )
        uses = update(GT_STATS).where(GT_STATS.c.image_id.in_(ordered)).values(uses=GT_STATS.c.uses + 1)
        stmt = stmt.add_cte(uses.cte("gt_uses"))
    return stmt


def issue(
    session: Session, values: dict[str, Any], items: Sequence[dict[str, Any]], gt_ids: Sequence[int]
) -> tuple[int, dict[int, Any]]:
    """Insert the assignment (``values``: its columns), its items and one more use of each GT image
    (rows locked in id order) in one statement; return the assignment id and id → (id, name, width,
    height, context) of the items' images."""
    params: dict[str, Any] = {f"p_{column}": values[column] for column in ASSIGNMENT_COLUMNS}
    params |= {
        "p_positions": [i["position"] for i in items],
        "p_tokens": [i["token"] for i in items],
        "p_images": [i["image_id"] for i in items],
        "p_gt": [i["is_gt"] for i in items],
        "p_gt_ids": sorted(gt_ids),
    }
    result = session.execute(_issue_statement(bool(gt_ids)), params).all()
    info = {
        r.image_id: (r.image_id, r.name, r.width, r.height, r.context)
        for r in result
        if r.image_id is not None
    }
    return int(result[0][0]), info


def chunks_no_member_can_take(session: Session, limit: int = 500) -> list[int]:
    """Open chunks with a free slot, of active team jobs (``jobs.members``), that every member of the
    team has already held: nobody may claim them again (a worker never holds a chunk twice)."""
    rows = session.execute(
        select(Chunk.id, Job.members, Assignment.worker_id)
        .join(Job, Job.id == Chunk.job_id)
        .join(Assignment, Assignment.chunk_id == Chunk.id)
        .where(
            Job.members.is_not(None),
            Job.status == JobStatus.active,
            Chunk.status == ChunkStatus.open,
            Chunk.free_slots > 0,
        )
    ).tuples()
    team: dict[int, set[int]] = {}
    held: dict[int, set[int]] = {}
    for chunk_id, members, worker_id in rows:
        team[chunk_id] = set(members or [])
        held.setdefault(chunk_id, set()).add(worker_id)
    return sorted(c for c, members in team.items() if members <= held[c])[:limit]
