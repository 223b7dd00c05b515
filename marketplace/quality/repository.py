"""All SQL of the quality engine (worker records, GT ratings, conflicts, merge inputs, result files)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from marketplace.models import (
    Assignment,
    AssignmentItem,
    AssignmentStatus,
    Chunk,
    ChunkImage,
    GtAnnotation,
    GtImageQuality,
    GtImageStat,
    Job,
    JobImage,
    JobNotice,
    JobResultFile,
    JobWorkerBan,
    ScoreConflict,
    WorkerAgreement,
    WorkerJobQuality,
)


def _insert(session: Session, model: Any) -> Any:
    """``INSERT`` with ``ON CONFLICT`` support on both backends."""
    dialect = session.get_bind().dialect.name
    return (sqlite.insert if dialect == "sqlite" else postgresql.insert)(model)


# -- scoring inputs --------------------------------------------------------------------------------


def items_by_tokens(session: Session, tokens: Sequence[str]) -> dict[str, AssignmentItem]:
    if not tokens:
        return {}
    rows = session.scalars(select(AssignmentItem).where(AssignmentItem.token.in_(list(tokens))))
    return {item.token: item for item in rows}


def item_count(session: Session, assignment_id: int) -> int:
    stmt = (
        select(func.count()).select_from(AssignmentItem).where(AssignmentItem.assignment_id == assignment_id)
    )
    return int(session.scalar(stmt) or 0)


def get_assignment(session: Session, assignment_id: int) -> Assignment | None:
    return session.get(Assignment, assignment_id)


def get_job(session: Session, job_id: int) -> Job | None:
    return session.get(Job, job_id)


def lock_job(session: Session, job_id: int) -> Job | None:
    return session.scalar(
        select(Job)
        .where(Job.id == job_id)
        .with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    )


# -- conflicts ------------------------------------------------------------------------------------


def replace_conflicts(session: Session, assignment_id: int, rows: Sequence[dict[str, Any]]) -> None:
    session.execute(delete(ScoreConflict).where(ScoreConflict.assignment_id == assignment_id))
    if rows:
        session.execute(_insert(session, ScoreConflict), list(rows))


def conflicts_for(session: Session, assignment_id: int) -> list[ScoreConflict]:
    stmt = (
        select(ScoreConflict).where(ScoreConflict.assignment_id == assignment_id).order_by(ScoreConflict.id)
    )
    return list(session.scalars(stmt))


# -- worker records -------------------------------------------------------------------------------


def lock_worker_quality(session: Session, job_id: int, worker_id: int) -> WorkerJobQuality:
    """The worker's record on the job, created if missing, locked for this transaction."""
    session.execute(
        _insert(session, WorkerJobQuality)
        .values(job_id=job_id, worker_id=worker_id, sprt_decision="continue", sprt_llr=0.0)
        .on_conflict_do_nothing(index_elements=["job_id", "worker_id"])
    )
    record = session.scalar(
        select(WorkerJobQuality)
        .where(WorkerJobQuality.job_id == job_id, WorkerJobQuality.worker_id == worker_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert record is not None
    return record


def shared_history(session: Session, worker_id: int, exclude_job: int) -> tuple[int, int]:
    """(GT passed, GT items) of the worker on other jobs whose requesters share reliability."""
    stmt = (
        select(
            func.coalesce(func.sum(WorkerJobQuality.gt_passed), 0),
            func.coalesce(func.sum(WorkerJobQuality.gt_items), 0),
        )
        .join(Job, Job.id == WorkerJobQuality.job_id)
        .where(
            WorkerJobQuality.worker_id == worker_id,
            WorkerJobQuality.job_id != exclude_job,
            Job.share_reliability.is_(True),
        )
    )
    passed, total = session.execute(stmt).one()
    return int(passed or 0), int(total or 0)


def worker_quality(session: Session, job_id: int, worker_id: int) -> WorkerJobQuality | None:
    return session.scalar(
        select(WorkerJobQuality).where(
            WorkerJobQuality.job_id == job_id, WorkerJobQuality.worker_id == worker_id
        )
    )


def worker_records(session: Session, job_id: int) -> list[WorkerJobQuality]:
    return list(session.scalars(select(WorkerJobQuality).where(WorkerJobQuality.job_id == job_id)))


def job_seconds_per_item(session: Session, job_id: int, exclude_worker: int) -> float | None:
    """Time per item across the job's other workers (a stand-in for the median)."""
    stmt = select(func.sum(WorkerJobQuality.seconds_total), func.sum(WorkerJobQuality.items_timed)).where(
        WorkerJobQuality.job_id == job_id, WorkerJobQuality.worker_id != exclude_worker
    )
    seconds, items = session.execute(stmt).one()
    return float(seconds) / int(items) if items else None


def ban_worker(session: Session, job_id: int, worker_id: int, reason: str) -> bool:
    """Write the job ban (the assignment server then issues nothing more). True if new."""
    result = session.execute(
        _insert(session, JobWorkerBan)
        .values(job_id=job_id, worker_id=worker_id, reason=reason, created_at=func.now())
        .on_conflict_do_nothing(index_elements=["job_id", "worker_id"])
    )
    return bool(getattr(result, "rowcount", 0))


def is_banned(session: Session, job_id: int, worker_id: int) -> bool:
    stmt = select(JobWorkerBan.id).where(JobWorkerBan.job_id == job_id, JobWorkerBan.worker_id == worker_id)
    return session.scalar(stmt) is not None


def bans(session: Session, job_id: int) -> dict[int, str]:
    """worker id -> why the worker was stopped on this job."""
    rows = session.execute(
        select(JobWorkerBan.worker_id, JobWorkerBan.reason).where(JobWorkerBan.job_id == job_id)
    )
    return {worker_id: reason for worker_id, reason in rows}


def banned_count(session: Session, job_id: int) -> int:
    stmt = select(func.count()).select_from(JobWorkerBan).where(JobWorkerBan.job_id == job_id)
    return int(session.scalar(stmt) or 0)


def add_agreements(session: Session, job_id: int, counts: dict[int, tuple[int, int]]) -> None:
    """Add (answers matching, answers checked) per worker, upserting in worker id order."""
    if not counts:
        return
    rows = [
        {"job_id": job_id, "worker_id": w, "agreed": agreed, "compared": compared}
        for w, (agreed, compared) in sorted(counts.items())
    ]
    stmt = _insert(session, WorkerAgreement).values(rows)
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=["job_id", "worker_id"],
            set_={
                "agreed": WorkerAgreement.agreed + stmt.excluded.agreed,
                "compared": WorkerAgreement.compared + stmt.excluded.compared,
            },
        )
    )


def agreement_records(session: Session, job_id: int) -> dict[int, tuple[int, int]]:
    """worker id -> (answers matching, answers checked) on the job's settled items."""
    rows = session.execute(
        select(WorkerAgreement.worker_id, WorkerAgreement.agreed, WorkerAgreement.compared).where(
            WorkerAgreement.job_id == job_id
        )
    )
    return {w: (a, c) for w, a, c in rows.tuples()}


# -- GT images ------------------------------------------------------------------------------------


def count_gt_outcomes(
    session: Session, job_id: int, outcomes: Sequence[tuple[int, bool]], now: datetime
) -> dict[int, GtImageQuality]:
    """Add one scored use (and an acceptance when passed) per (image id, passed); rows come back locked."""
    for image_id, passed in sorted(outcomes):
        stmt = _insert(session, GtImageQuality).values(
            image_id=image_id, job_id=job_id, uses=1, accepted=int(passed), updated_at=now
        )
        session.execute(
            stmt.on_conflict_do_update(
                index_elements=["image_id"],
                set_={
                    "uses": GtImageQuality.uses + 1,
                    "accepted": GtImageQuality.accepted + int(passed),
                    "updated_at": now,
                },
            )
        )
    ids = sorted({image_id for image_id, _ in outcomes})
    if not ids:
        return {}
    rows = session.scalars(
        select(GtImageQuality)
        .where(GtImageQuality.image_id.in_(ids))
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return {row.image_id: row for row in rows}


def gt_image_quality(session: Session, image_id: int) -> GtImageQuality | None:
    return session.get(GtImageQuality, image_id)


def gt_stat(session: Session, image_id: int) -> GtImageStat | None:
    return session.get(GtImageStat, image_id)


def usable_gt_count(session: Session, job_id: int) -> int:
    stmt = (
        select(func.count())
        .select_from(GtImageStat)
        .where(GtImageStat.job_id == job_id, GtImageStat.retired_at.is_(None))
    )
    return int(session.scalar(stmt) or 0)


def gt_annotations(session: Session, image_ids: Sequence[int]) -> list[GtAnnotation]:
    if not image_ids:
        return []
    stmt = select(GtAnnotation).where(GtAnnotation.image_id.in_(list(image_ids))).order_by(GtAnnotation.id)
    return list(session.scalars(stmt))


def replace_gt_annotations(
    session: Session, job_id: int, image_id: int, objects: Sequence[dict[str, Any]]
) -> None:
    session.execute(delete(GtAnnotation).where(GtAnnotation.image_id == image_id))
    for obj in objects:
        session.add(
            GtAnnotation(job_id=job_id, image_id=image_id, label=obj["label"], geometry=obj["geometry"])
        )
    session.flush()


def get_image(session: Session, image_id: int) -> JobImage | None:
    return session.get(JobImage, image_id)


def rejected_assignments_with_image(session: Session, image_id: int) -> list[Assignment]:
    stmt = (
        select(Assignment)
        .join(AssignmentItem, AssignmentItem.assignment_id == Assignment.id)
        .where(AssignmentItem.image_id == image_id, Assignment.status == AssignmentStatus.rejected)
        .order_by(Assignment.id)
    )
    return list(session.scalars(stmt).unique())


def retired_gt_ids(session: Session, job_id: int) -> set[int]:
    stmt = select(GtImageStat.image_id).where(
        GtImageStat.job_id == job_id, GtImageStat.retired_at.is_not(None)
    )
    return set(session.scalars(stmt))


# -- merge inputs ---------------------------------------------------------------------------------


def job_images(session: Session, job_id: int) -> list[JobImage]:
    return list(session.scalars(select(JobImage).where(JobImage.job_id == job_id).order_by(JobImage.id)))


def accepted_answers(
    session: Session, job_id: int, image_ids: Sequence[int] | None = None
) -> list[tuple[int, int, int, Any, Any]]:
    """(image id, worker id, assignment id, answer, interactions) of accepted work on non-GT items
    (``image_ids``: on these only)."""
    stmt = (
        select(
            AssignmentItem.image_id,
            Assignment.worker_id,
            Assignment.id,
            AssignmentItem.answer,
            AssignmentItem.interactions,
        )
        .join(Assignment, Assignment.id == AssignmentItem.assignment_id)
        .where(
            Assignment.job_id == job_id,
            Assignment.status == AssignmentStatus.accepted,
            AssignmentItem.is_gt.is_(False),
        )
        .order_by(AssignmentItem.image_id, Assignment.id)
    )
    if image_ids is not None:
        stmt = stmt.where(AssignmentItem.image_id.in_(list(image_ids)))
    return [tuple(row) for row in session.execute(stmt).tuples()]


def gt_answers(session: Session, job_id: int, *, accepted_only: bool = False) -> list[tuple[int, int, Any]]:
    """(image id, worker id, answer) of every scored answer on GT items (seeds Dawid-Skene);
    ``accepted_only``: from accepted assignments only (how the accepted crowd errs)."""
    statuses = (
        [AssignmentStatus.accepted]
        if accepted_only
        else [AssignmentStatus.accepted, AssignmentStatus.rejected]
    )
    stmt = (
        select(AssignmentItem.image_id, Assignment.worker_id, AssignmentItem.answer)
        .join(Assignment, Assignment.id == AssignmentItem.assignment_id)
        .where(
            Assignment.job_id == job_id,
            Assignment.status.in_(statuses),
            AssignmentItem.is_gt.is_(True),
        )
    )
    return [(i, w, a) for i, w, a in session.execute(stmt).tuples()]


def all_interactions(session: Session, job_id: int) -> list[tuple[int, int, int, str, bool, Any]]:
    """(assignment id, worker id, position, image name, is GT, interactions) of submitted work."""
    stmt = (
        select(
            Assignment.id,
            Assignment.worker_id,
            AssignmentItem.position,
            JobImage.name,
            AssignmentItem.is_gt,
            AssignmentItem.interactions,
        )
        .join(Assignment, Assignment.id == AssignmentItem.assignment_id)
        .join(JobImage, JobImage.id == AssignmentItem.image_id)
        .where(Assignment.job_id == job_id, Assignment.submitted_at.is_not(None))
        .order_by(Assignment.id, AssignmentItem.position)
    )
    return [tuple(row) for row in session.execute(stmt).tuples()]


def answers_on_image(session: Session, image_id: int) -> list[tuple[int, int, str, Any]]:
    """(assignment id, worker id, status, answer) of every scored answer on one image."""
    stmt = (
        select(Assignment.id, Assignment.worker_id, Assignment.status, AssignmentItem.answer)
        .join(Assignment, Assignment.id == AssignmentItem.assignment_id)
        .where(
            AssignmentItem.image_id == image_id,
            Assignment.status.in_([AssignmentStatus.accepted, AssignmentStatus.rejected]),
        )
        .order_by(Assignment.id)
    )
    return [(a, w, s.value, ans) for a, w, s, ans in session.execute(stmt).tuples()]


def chunk_of_image(session: Session, image_id: int) -> Chunk | None:
    stmt = (
        select(Chunk).join(ChunkImage, ChunkImage.chunk_id == Chunk.id).where(ChunkImage.image_id == image_id)
    )
    return session.scalar(stmt)


# -- results and notices --------------------------------------------------------------------------


def result_files(session: Session, job_id: int) -> list[JobResultFile]:
    stmt = select(JobResultFile).where(JobResultFile.job_id == job_id).order_by(JobResultFile.name)
    return list(session.scalars(stmt))


def result_file(session: Session, job_id: int, name: str) -> JobResultFile | None:
    stmt = select(JobResultFile).where(JobResultFile.job_id == job_id, JobResultFile.name == name)
    return session.scalar(stmt)


def replace_result_files(session: Session, job_id: int, rows: Sequence[dict[str, Any]]) -> None:
    session.execute(delete(JobResultFile).where(JobResultFile.job_id == job_id))
    for row in rows:
        session.add(JobResultFile(job_id=job_id, **row))
    session.flush()


def add_notice(session: Session, job_id: int, kind: str, message: str) -> None:
    session.add(JobNotice(job_id=job_id, kind=kind, message=message))
    session.flush()


def notices(session: Session, job_id: int) -> list[JobNotice]:
    stmt = select(JobNotice).where(JobNotice.job_id == job_id).order_by(JobNotice.id)
    return list(session.scalars(stmt))


def completed_jobs_without_results(session: Session, limit: int = 20) -> list[int]:
    has_files = select(JobResultFile.id).where(JobResultFile.job_id == Job.id).exists()
    stmt = select(Job.id).where(Job.status == "completed", ~has_files).order_by(Job.id).limit(limit)
    return list(session.scalars(stmt))
