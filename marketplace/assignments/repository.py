"""All SQL of the assignment server."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Any, cast

from sqlalchemy import Integer, Row, Table, bindparam, exists, func, insert, or_, select, update
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session, aliased

from marketplace.assignments.states import ASSIGNMENT, take_slot_values
from marketplace.models import (
    Assignment,
    AssignmentItem,
    AssignmentSlot,
    AssignmentStatus,
    Chunk,
    ChunkImage,
    ChunkStatus,
    GtImageStat,
    Job,
    JobImage,
    JobStatus,
    JobWorkerBan,
    WorkerJobQuality,
)

INSERT_BATCH = 5000
ASSIGNMENTS = cast(Table, Assignment.__table__)
ITEMS = cast(Table, AssignmentItem.__table__)
GT_STATS = cast(Table, GtImageStat.__table__)
JOBS = cast(Table, Job.__table__)
UNFINISHED = (ChunkStatus.open, ChunkStatus.full, ChunkStatus.in_review, ChunkStatus.waiting)


def begin_write(session: Session) -> None:
    """Take the database write lock now on SQLite (``BEGIN IMMEDIATE``).

    SQLite serialises writers; taking the lock before the first read makes a claim's reads and writes
    one atomic step (a deferred transaction could read, lose the race and fail on its first write).
    On PostgreSQL this does nothing: row locks (``FOR UPDATE SKIP LOCKED``) do the job there.

    Row locks here are ``FOR NO KEY UPDATE`` (``key_share=True``): exclusive among ourselves, but not
    blocking the ``KEY SHARE`` locks that foreign-key checks take when an assignment row is inserted
    (a plain ``FOR UPDATE`` on the job deadlocked against concurrent claims that way).
    """
    conn = session.connection()
    if conn.dialect.name != "sqlite":
        return
    raw = conn.connection.driver_connection
    if raw is not None and not raw.in_transaction:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


# -- opening a job --------------------------------------------------------------------------------


def job_has_chunks(session: Session, job_id: int) -> bool:
    return bool(session.scalar(select(exists().where(Chunk.job_id == job_id))))


def image_ids(session: Session, job_id: int, *, gt: bool) -> list[int]:
    stmt = select(JobImage.id).where(JobImage.job_id == job_id, JobImage.is_gt.is_(gt)).order_by(JobImage.id)
    return list(session.scalars(stmt))


def add_chunks(
    session: Session, job_id: int, count: int, overlap: int, *, waiting: bool = False
) -> list[int]:
    """Insert ``count`` open chunks (``waiting``: waiting, without free slots until opened); return
    their ids in position order."""
    rows = [
        {
            "job_id": job_id,
            "position": p,
            "status": ChunkStatus.waiting if waiting else ChunkStatus.open,
            "free_slots": 0 if waiting else overlap,
            "accepted_count": 0,
            "rejected_count": 0,
        }
        for p in range(count)
    ]
    for start in range(0, len(rows), INSERT_BATCH):
        session.execute(insert(Chunk), rows[start : start + INSERT_BATCH])
    return list(session.scalars(select(Chunk.id).where(Chunk.job_id == job_id).order_by(Chunk.position)))


def add_gt_stats(session: Session, job_id: int, image_ids: Sequence[int]) -> None:
    """Usage statistics for these GT images of a job, where there are none yet."""
    rows = [{"image_id": i, "job_id": job_id, "uses": 0} for i in image_ids]
    insert_ = sqlite.insert if session.get_bind().dialect.name == "sqlite" else postgresql.insert
    for start in range(0, len(rows), INSERT_BATCH):
        stmt = insert_(GtImageStat).values(rows[start : start + INSERT_BATCH])
        session.execute(stmt.on_conflict_do_nothing(index_elements=["image_id"]))


def add_rows(session: Session, model: Any, rows: Sequence[dict[str, Any]]) -> None:
    for start in range(0, len(rows), INSERT_BATCH):
        session.execute(insert(model), list(rows[start : start + INSERT_BATCH]))


# -- claiming -------------------------------------------------------------------------------------


def get_job(session: Session, job_id: int) -> Job | None:
    return session.get(Job, job_id)


def lock_job(session: Session, job_id: int) -> Job | None:
    """The job, locked ``FOR NO KEY UPDATE`` and re-read (a waiter sees what the holder committed)."""
    return session.scalar(
        select(Job)
        .where(Job.id == job_id)
        .with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    )


def is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _gt_keep_of(job_id: Any, worker_id: Any) -> Any:
    """The worker's adaptive-GT rate on the job (1.0 before their first scored assignment)."""
    keep = (
        select(WorkerJobQuality.gt_keep)
        .where(WorkerJobQuality.job_id == job_id, WorkerJobQuality.worker_id == worker_id)
        .scalar_subquery()
    )
    return func.coalesce(keep, 1.0)


@cache
def _job_for_claim_statement(postgres: bool) -> Any:
    """:func:`job_for_claim`'s statement, built once (building a statement costs more CPU than the
    round trip; its values are bound parameters)."""
    job_id, worker_id = bindparam("p_job", type_=Integer), bindparam("p_worker", type_=Integer)
    banned = exists().where(JobWorkerBan.job_id == Job.id, JobWorkerBan.worker_id == worker_id)
    columns: list[Any] = [Job, banned, _gt_keep_of(Job.id, worker_id)]
    if postgres:
        columns.append(func.pg_advisory_xact_lock(job_id, worker_id))
    return select(*columns).where(Job.id == job_id, team_admits(worker_id, postgres))


def team_admits(worker_id: Any, postgres: bool) -> Any:
    """SQL: the job is open to the crowd (no team), or this worker is in its team (``jobs.members``,
    a JSON array of user ids). A condition of the claim's own statements, never a statement more."""
    inside: Any
    if postgres:
        inside = sql_cast(Job.members, JSONB).op("@>")(func.jsonb_build_array(worker_id))
    else:
        each = func.json_each(Job.members).table_valued("value")
        inside = exists().select_from(each).where(each.c.value == worker_id)
    return or_(Job.members.is_(None), inside)


def job_for_claim(session: Session, job_id: int, worker_id: int) -> tuple[Job, bool, float] | None:
    """The job, whether the worker is banned from it and their adaptive-GT rate, in one statement; on
    PostgreSQL the same statement takes the worker's claim lock of the job (see
    :func:`lock_worker_claims`). None when there is no such job, or it has a team without this worker."""
    stmt = _job_for_claim_statement(is_postgres(session))
    row = session.execute(stmt, {"p_job": job_id, "p_worker": worker_id}).first()
    return (row[0], bool(row[1]), float(row[2])) if row is not None else None


def gt_keep(session: Session, job_id: int, worker_id: int) -> float:
    return float(session.scalar(select(_gt_keep_of(job_id, worker_id))) or 1.0)


def lock_worker_claims(session: Session, job_id: int, worker_id: int) -> None:
    """One claim at a time per worker and job (a transaction-scoped advisory lock keyed by the pair):
    a second concurrent claim waits, then sees the first one's assignment instead of skipping its
    locked chunk and reporting that nothing is left. SQLite serialises writers anyway."""
    if is_postgres(session):
        session.execute(select(func.pg_advisory_xact_lock(job_id, worker_id)))


def is_banned(session: Session, job_id: int, worker_id: int) -> bool:
    stmt = select(exists().where(JobWorkerBan.job_id == job_id, JobWorkerBan.worker_id == worker_id))
    return bool(session.scalar(stmt))


HELD_COLUMNS = (
    Assignment.id,
    Assignment.slot,
    Assignment.deadline,
    Assignment.chunk_id,
    Assignment.job_id,
    Assignment.worker_id,
)


@cache
def _lock_held_statement() -> Any:
    return (
        select(*HELD_COLUMNS)
        .where(
            Assignment.job_id == bindparam("p_job", type_=Integer),
            Assignment.worker_id == bindparam("p_worker", type_=Integer),
            Assignment.status == AssignmentStatus.assigned,
        )
        .order_by(Assignment.id)
        .with_for_update(key_share=True)
    )


def lock_held(session: Session, job_id: int, worker_id: int) -> list[Row[Any]]:
    """The worker's active assignments in the job (current first), locked: a concurrent submit,
    expiry or claim of the same worker waits instead of seeing a half-made change."""
    return list(session.execute(_lock_held_statement(), {"p_job": job_id, "p_worker": worker_id}))


def holds_any(session: Session, job_id: int, worker_id: int) -> bool:
    stmt = select(
        exists().where(
            Assignment.job_id == job_id,
            Assignment.worker_id == worker_id,
            Assignment.status == AssignmentStatus.assigned,
        )
    )
    return bool(session.scalar(stmt))


def lock_overdue(
    session: Session, now: datetime, *, job_id: int | None = None, limit: int = 500
) -> list[Row[Any]]:
    """Assigned assignments past their deadline, locked; rows another transaction holds are skipped."""
    stmt = (
        select(*HELD_COLUMNS)
        .where(Assignment.status == AssignmentStatus.assigned, Assignment.deadline <= now)
        .order_by(Assignment.id)
        .limit(limit)
        .with_for_update(skip_locked=True, key_share=True)
    )
    if job_id is not None:
        stmt = stmt.where(Assignment.job_id == job_id)
    return list(session.execute(stmt))


def mark_expired(session: Session, ids: Sequence[int], now: datetime) -> None:
    session.execute(
        update(ASSIGNMENTS)
        .where(ASSIGNMENTS.c.id.in_(list(ids)), ASSIGNMENTS.c.status == AssignmentStatus.assigned.value)
        .values(**ASSIGNMENT.set_clause(AssignmentStatus.assigned, AssignmentStatus.expired), finished_at=now)
    )


def promote_next(
    session: Session, job_id: int, worker_id: int, deadline: datetime | None = None
) -> int | None:
    """The worker's ``next`` active assignment in the job becomes ``current`` (with a new deadline
    when given); returns its id, or None when there is none."""
    t = ASSIGNMENTS
    values: dict[str, Any] = {"slot": AssignmentSlot.current.value}
    if deadline is not None:
        values["deadline"] = deadline
    stmt = (
        update(t)
        .where(
            t.c.job_id == job_id,
            t.c.worker_id == worker_id,
            t.c.status == AssignmentStatus.assigned.value,
            t.c.slot == AssignmentSlot.next.value,
        )
        .values(**values)
        .returning(t.c.id)
    )
    return session.execute(stmt).scalar()


def lock_chunks(session: Session, chunk_ids: Sequence[int], *, skip_locked: bool = False) -> list[Chunk]:
    """Chunks locked in id order; ``skip_locked``: the ones another transaction holds are left out."""
    if not chunk_ids:
        return []
    stmt = (
        select(Chunk)
        .where(Chunk.id.in_(sorted(set(chunk_ids))))
        .order_by(Chunk.id)
        .with_for_update(key_share=True, skip_locked=skip_locked)
        .execution_options(populate_existing=True)
    )
    return list(session.scalars(stmt))


def lock_chunk(session: Session, chunk_id: int) -> Chunk:
    chunk = session.scalar(
        select(Chunk)
        .where(Chunk.id == chunk_id)
        .with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    )
    assert chunk is not None
    return chunk


def lock_chunk_probing(session: Session, chunk_id: int, job_id: int, beyond: int) -> tuple[Chunk, bool]:
    """:func:`lock_chunk`, and in the same statement whether the job has more than ``beyond``
    unfinished chunks (:func:`has_unfinished_chunks`, read before the lock was waited for)."""
    params = {"p_chunk": chunk_id, "p_job": job_id, "p_beyond": beyond}
    row = session.execute(_lock_chunk_probing_statement(), params).one()
    return row[0], bool(row[1])


@cache
def _lock_chunk_probing_statement() -> Any:
    """:func:`lock_chunk_probing`'s statement, built once (its values bound parameters)."""
    probe = (
        select(Chunk.id)
        .where(Chunk.job_id == bindparam("p_job", type_=Integer), Chunk.status.in_(UNFINISHED))
        .offset(bindparam("p_beyond", type_=Integer))
        .limit(1)
        .exists()
    )
    return (
        select(Chunk, probe)
        .where(Chunk.id == bindparam("p_chunk", type_=Integer))
        .with_for_update(key_share=True, of=Chunk)
        .execution_options(populate_existing=True)
    )


def seen_by(job_id: Any, worker_id: Any) -> Any:
    """The images this worker has been shown in this job (a subquery)."""
    return (
        select(AssignmentItem.image_id)
        .join(Assignment, Assignment.id == AssignmentItem.assignment_id)
        .where(Assignment.job_id == job_id, Assignment.worker_id == worker_id)
    )


def next_chunk_pick(job_id: Any, worker_id: Any) -> Any:
    """The first open chunk of the job this worker never held (and, for an extra chunk of dynamic
    overlap, none of whose images they have seen), locked; chunks being claimed by someone else right
    now are skipped instead of waited for (a scalar subquery)."""
    c = aliased(Chunk)
    held_before = exists().where(Assignment.chunk_id == c.id, Assignment.worker_id == worker_id)
    # an extra chunk (dynamic overlap) wants an answer from someone who has not seen its images
    seen_extra = exists().where(
        ChunkImage.chunk_id == c.id, ChunkImage.image_id.in_(seen_by(job_id, worker_id))
    )
    return (
        select(c.id)
        .where(c.job_id == job_id, c.status == ChunkStatus.open, c.free_slots > 0, ~held_before)
        .where(or_(c.overlap.is_(None), ~seen_extra))
        .order_by(c.position)
        .limit(1)
        .with_for_update(skip_locked=True, key_share=True)
        .scalar_subquery()
    )


def take_next_chunk(session: Session, job_id: int, worker_id: int) -> int | None:
    """Take a slot of :func:`next_chunk_pick`'s chunk, in one statement; its id."""
    stmt = (
        update(Chunk)
        .where(Chunk.id == next_chunk_pick(job_id, worker_id))
        .values(**take_slot_values())
        .returning(Chunk.id)
        .execution_options(synchronize_session=False)
    )
    return session.execute(stmt).scalar()


def chunk_image_ids(session: Session, chunk_id: int) -> list[int]:
    stmt = select(ChunkImage.image_id).where(ChunkImage.chunk_id == chunk_id).order_by(ChunkImage.position)
    return list(session.scalars(stmt))


def images(session: Session, image_ids: Sequence[int]) -> dict[int, Any]:
    """id → (id, name, width, height, context), by primary key."""
    if not image_ids:
        return {}
    stmt = select(JobImage.id, JobImage.name, JobImage.width, JobImage.height, JobImage.context).where(
        JobImage.id.in_(list(image_ids))
    )
    return {row.id: row for row in session.execute(stmt)}


def insert_assignment(session: Session, values: dict[str, Any]) -> int:
    return int(session.execute(insert(Assignment).values(**values).returning(Assignment.id)).scalar_one())


def insert_items(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    session.execute(insert(ITEMS), list(rows))


# -- reading assignments --------------------------------------------------------------------------


def get_assignment(session: Session, assignment_id: int, *, for_update: bool = False) -> Assignment | None:
    if not for_update:
        return session.get(Assignment, assignment_id)
    return session.scalar(
        select(Assignment)
        .where(Assignment.id == assignment_id)
        .with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    )


def lock_job_then_assignment(stmt: Any) -> Any:
    """``stmt`` (a select of an assignment joined to its job) locking, on PostgreSQL, the job
    ``FOR KEY SHARE`` and then the assignment ``FOR NO KEY UPDATE``, in one statement.

    Submissions and scoring take these; the job lock does not block them among themselves or claims
    (``NO KEY UPDATE``), but a cancel (``FOR UPDATE`` on the job) waits for those in flight and they
    wait for it: the two are ordered, and always job first, then assignment (no deadlock). PostgreSQL
    takes a row's locks in the order of the locking clauses (the rowmarks' order), which SQLAlchemy's
    single ``with_for_update`` cannot spell, hence the suffix. After a wait, both rows are their latest
    committed versions (re-checked), as a second statement would read them. SQLite serialises writers
    and gets no clause."""
    clause = f"FOR KEY SHARE OF {JOBS.name} FOR NO KEY UPDATE OF {ASSIGNMENTS.name}"
    return stmt.suffix_with(clause, dialect="postgresql")


@cache
def _lock_assignment_with_job_statement() -> Any:
    stmt = (
        select(Assignment, Job)
        .join(Job, Job.id == Assignment.job_id)
        .where(Assignment.id == bindparam("p_assignment", type_=Integer))
        .execution_options(populate_existing=True)
    )
    return lock_job_then_assignment(stmt)


def lock_assignment_with_job(session: Session, assignment_id: int) -> tuple[Assignment, Job] | None:
    """The assignment, locked ``FOR NO KEY UPDATE`` and re-read, with its job, key-share locked first
    (:func:`lock_job_then_assignment`), in one statement."""
    row = session.execute(_lock_assignment_with_job_statement(), {"p_assignment": assignment_id}).first()
    return (row[0], row[1]) if row is not None else None


def submitted_ids(session: Session, job_id: int) -> list[int]:
    """The job's submissions still waiting for their score, oldest first."""
    stmt = (
        select(Assignment.id)
        .where(Assignment.job_id == job_id, Assignment.status == AssignmentStatus.submitted)
        .order_by(Assignment.id)
    )
    return list(session.scalars(stmt))


def item_rows(session: Session, assignment_id: int) -> list[Row[Any]]:
    """(id, token, name, width, height, context) of the assignment's items in display order."""
    stmt = (
        select(
            AssignmentItem.id,
            AssignmentItem.token,
            JobImage.name,
            JobImage.width,
            JobImage.height,
            JobImage.context,
        )
        .join(JobImage, JobImage.id == AssignmentItem.image_id)
        .where(AssignmentItem.assignment_id == assignment_id)
        .order_by(AssignmentItem.position)
    )
    return list(session.execute(stmt))


def items_with_images(session: Session, assignment_id: int) -> list[tuple[AssignmentItem, JobImage]]:
    stmt = (
        select(AssignmentItem, JobImage)
        .join(JobImage, JobImage.id == AssignmentItem.image_id)
        .where(AssignmentItem.assignment_id == assignment_id)
        .order_by(AssignmentItem.position)
    )
    return [(item, image) for item, image in session.execute(stmt).tuples()]


def has_unfinished_chunks(session: Session, job_id: int, *, beyond: int = 0) -> bool:
    """Whether the job has more than ``beyond`` chunks that are not done (an index range scan of at
    most ``beyond + 1`` entries)."""
    stmt = (
        select(Chunk.id).where(Chunk.job_id == job_id, Chunk.status.in_(UNFINISHED)).offset(beyond).limit(1)
    )
    return session.scalar(stmt) is not None


def active_jobs_with_chunks(session: Session) -> list[int]:
    stmt = (
        select(Job.id)
        .where(Job.status.in_((JobStatus.active, JobStatus.validating)))
        .where(exists().where(Chunk.job_id == Job.id))
        .order_by(Job.id)
    )
    return list(session.scalars(stmt))


def my_assignments(
    session: Session, worker_id: int, *, limit: int, offset: int
) -> list[tuple[Assignment, Job]]:
    stmt = (
        select(Assignment, Job)
        .join(Job, Job.id == Assignment.job_id)
        .where(Assignment.worker_id == worker_id)
        .order_by(Assignment.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return [(a, j) for a, j in session.execute(stmt).tuples()]


def stale_submission_ids(session: Session, submitted_before: datetime, limit: int) -> list[int]:
    """Submissions still waiting for a score since before ``submitted_before`` (a lost scoring task)."""
    return list(
        session.scalars(
            select(Assignment.id)
            .where(
                Assignment.status == AssignmentStatus.submitted,
                Assignment.submitted_at < submitted_before,
            )
            .order_by(Assignment.id)
            .limit(limit)
        )
    )
