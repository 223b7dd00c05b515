"""The reviewers' backend: one dispute per case, its history, and the decisions. Never commits.

Disputes are opened by the quality engine (``too_fast``, ``suspicious_gt``, ``low_agreement``), the
assignment server (``chunk_failed_max_attempts``) and workers (``appeal``, once per rejected
assignment). At most one dispute per (job, kind, subject) is open; a repeat adds to its history.
A decision is recorded with who and when, applied in the same transaction, and cannot be made twice.
"""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy.orm import Session

from marketplace.errors import AlreadyAppealed, AlreadyDecided, InvalidInput, NotFound, NotRejected
from marketplace.geometry import polygons as geo
from marketplace.models import (
    Assignment,
    AssignmentStatus,
    Chunk,
    Dispute,
    DisputeKind,
    DisputeStatus,
    Job,
    JobType,
    User,
    utcnow,
)
from marketplace.reviews import repository as repo
from marketplace.reviews import states
from marketplace.reviews.schemas import (
    AppealOut,
    DecisionIn,
    DisputeDetailOut,
    DisputeOut,
    EventOut,
)

SYSTEM = None  # actor id of events the platform itself records


# -- opening --------------------------------------------------------------------------------------


def open_dispute(
    session: Session,
    *,
    job_id: int,
    kind: DisputeKind,
    subject_key: str,
    reason: str,
    assignment_id: int | None = None,
    chunk_id: int | None = None,
    image_id: int | None = None,
    worker_id: int | None = None,
    opened_by: int | None = None,
    details: Any = None,
) -> Dispute:
    """Open the dispute for this case, or note the repeat on the one already open."""
    existing = repo.open_dispute_for(session, job_id, kind, subject_key)
    if existing is not None:
        repo.add_event(session, existing.id, "noted", actor_id=opened_by, comment=reason, data=details)
        existing.updated_at = utcnow()
        return existing
    dispute = repo.add_dispute(
        session,
        Dispute(
            job_id=job_id,
            kind=kind,
            subject_key=subject_key,
            status=DisputeStatus.open,
            assignment_id=assignment_id,
            chunk_id=chunk_id,
            image_id=image_id,
            worker_id=worker_id,
            opened_by=opened_by,
            reason=reason,
            details=details,
        ),
    )
    repo.add_event(session, dispute.id, "opened", actor_id=opened_by, comment=reason, data=details)
    return dispute


def on_chunk_exhausted(session: Session, chunk: Chunk, reason: str | None = None) -> Dispute:
    """The assignment server's hook: a chunk failed ``max_attempts`` times (or no member of its job's
    team may take it any more: ``reason``) and waits in review."""
    rejected = repo.rejected_assignments_of_chunk(session, chunk.id)
    return open_dispute(
        session,
        job_id=chunk.job_id,
        kind=DisputeKind.chunk_failed_max_attempts,
        subject_key=f"chunk:{chunk.id}",
        reason=reason or f"chunk {chunk.position} was rejected {chunk.rejected_count} times",
        chunk_id=chunk.id,
        details={"rejected_assignments": [a.id for a in rejected]},
    )


def appeal(session: Session, worker: User, assignment_id: int, comment: str) -> AppealOut:
    """A worker appeals one of their rejected assignments, once."""
    assignment = repo.get_assignment(session, assignment_id, for_update=True)
    if assignment is None or assignment.worker_id != worker.id:
        raise NotFound(f"assignment {assignment_id} not found")
    if assignment.status is not AssignmentStatus.rejected:
        raise NotRejected(
            f"assignment {assignment_id} is {assignment.status.value}; only a rejected assignment can be "
            "appealed",
        )
    if repo.appeal_exists(session, assignment_id):
        raise AlreadyAppealed(f"assignment {assignment_id} was already appealed")
    dispute = open_dispute(
        session,
        job_id=assignment.job_id,
        kind=DisputeKind.appeal,
        subject_key=f"assignment:{assignment.id}",
        reason=comment,
        assignment_id=assignment.id,
        worker_id=worker.id,
        opened_by=worker.id,
    )
    return appeal_view(dispute)


def appeal_view(dispute: Dispute) -> AppealOut:
    return AppealOut(
        id=dispute.id,
        assignment_id=dispute.assignment_id,
        status=dispute.status,
        comment=dispute.reason,
        decision=dispute.decision,
        decided_at=dispute.decided_at,
        created_at=dispute.created_at,
    )


def my_appeals(session: Session, worker: User) -> list[AppealOut]:
    return [appeal_view(d) for d in repo.appeals_of(session, worker.id)]


def appeal_for(session: Session, assignment_id: int) -> AppealOut | None:
    dispute = repo.appeal_for(session, assignment_id)
    return appeal_view(dispute) if dispute is not None else None


def decided_subjects(session: Session, job_id: int, kind: DisputeKind) -> dict[str, str]:
    """What reviewers decided on the job's cases of one kind: ``subject key -> decision``."""
    return repo.decided_of_kind(session, job_id, kind)


def dispute_counts(session: Session, job_id: int) -> dict[str, dict[str, int]]:
    return repo.dispute_counts(session, job_id)


# -- reading --------------------------------------------------------------------------------------


def dispute_view(dispute: Dispute) -> DisputeOut:
    return DisputeOut(
        id=dispute.id,
        job_id=dispute.job_id,
        kind=dispute.kind,
        subject=dispute.subject_key,
        status=dispute.status,
        assignment_id=dispute.assignment_id,
        chunk_id=dispute.chunk_id,
        image_id=dispute.image_id,
        worker_id=dispute.worker_id,
        reason=dispute.reason,
        decision=dispute.decision,
        decided_by=dispute.decided_by,
        decided_at=dispute.decided_at,
        created_at=dispute.created_at,
    )


def list_disputes(
    session: Session,
    *,
    kind: DisputeKind | None = None,
    status: DisputeStatus | None = None,
    job_id: int | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[DisputeOut]:
    rows = repo.list_disputes(session, kind=kind, status=status, job_id=job_id, limit=limit, offset=offset)
    return [dispute_view(d) for d in rows]


def dispute_detail(session: Session, dispute: Dispute, context: dict[str, Any]) -> DisputeDetailOut:
    """The dispute with its history and the ``context`` a reviewer judges it by (built by the
    dispute view flow from the other domains)."""
    history = [
        EventOut(at=e.at, actor_id=e.actor_id, action=e.action, comment=e.comment, data=e.data)
        for e in repo.events(session, dispute.id)
    ]
    return DisputeDetailOut(
        **dispute_view(dispute).model_dump(), details=dispute.details, history=history, context=context
    )


def dispute_or_404(session: Session, dispute_id: int, *, for_update: bool = False) -> Dispute:
    dispute = repo.get_dispute(session, dispute_id, for_update=for_update)
    if dispute is None:
        raise NotFound(f"dispute {dispute_id} not found")
    return dispute


def job_of(session: Session, dispute: Dispute) -> Job:
    job = repo.get_job(session, dispute.job_id)
    assert job is not None
    return job


def disputed_assignments(session: Session, dispute: Dispute) -> tuple[Assignment | None, list[Assignment]]:
    """The assignment the dispute is about (if any) and the rejected ones of its chunk (if about one)."""
    one = chunk = None
    if dispute.assignment_id is not None:
        one = repo.get_assignment(session, dispute.assignment_id)
    if dispute.chunk_id is not None:
        chunk = repo.rejected_assignments_of_chunk(session, dispute.chunk_id)
    return one, chunk or []


# -- deciding -------------------------------------------------------------------------------------


def open_dispute_for_decision(session: Session, dispute_id: int) -> tuple[Dispute, Job]:
    """The dispute (locked) and its job; 409 when it was decided already."""
    dispute = dispute_or_404(session, dispute_id, for_update=True)
    if dispute.status is DisputeStatus.decided:
        raise AlreadyDecided(
            f"dispute {dispute_id} was already decided ({dispute.decision})",
        )
    job = repo.get_job(session, dispute.job_id)
    assert job is not None
    return dispute, job


def record_decision(
    session: Session, dispute: Dispute, reviewer: User, body: DecisionIn, effects: dict[str, Any]
) -> None:
    """Who decided what and when, with its effects, in the dispute's history."""
    now = utcnow()
    states.DISPUTE.move(dispute, DisputeStatus.decided)
    dispute.decision = body.action.value
    dispute.decided_by = reviewer.id
    dispute.decided_at = now
    dispute.updated_at = now
    repo.add_event(
        session,
        dispute.id,
        f"decided:{body.action.value}",
        actor_id=reviewer.id,
        comment=body.comment,
        data=effects,
        at=now,
    )


def assignment_for(session: Session, dispute: Dispute, body: DecisionIn) -> Assignment:
    assignment_id = body.assignment_id or dispute.assignment_id
    if assignment_id is None:
        raise InvalidInput("say which assignment to overturn: 'assignment_id'", field="assignment_id")
    assignment = repo.get_assignment(session, assignment_id, for_update=True)
    if assignment is None or assignment.job_id != dispute.job_id:
        raise NotFound(f"assignment {assignment_id} not found in job {dispute.job_id}")
    return assignment


def image_for(dispute: Dispute, body: DecisionIn) -> int:
    image_id = body.image_id or dispute.image_id
    if image_id is None:
        raise InvalidInput("say which GT image: 'image_id'", field="image_id")
    return image_id


def checked_gt_object(job: Job, label: str, geometry: list[Any] | None) -> dict[str, Any]:
    if label not in job.labels:
        raise InvalidInput(f"label {label!r} is not one of the job's labels {job.labels}", field="gt_objects")
    if job.type is JobType.polygons:
        try:
            rings = geo.check_rings(geometry, math.inf, math.inf)
        except geo.GeometryError as exc:
            raise InvalidInput(f"a polygons GT object: {exc}", field="gt_objects") from exc
        return {"label": label, "geometry": rings}
    expected = {"boxes": 4, "points": 2, "classification": 0}[job.type.value]
    if (len(geometry) if geometry else 0) != expected or (geometry and isinstance(geometry[0], list)):
        raise InvalidInput(f"a {job.type.value} GT object needs {expected} coordinates", field="gt_objects")
    return {"label": label, "geometry": [float(v) for v in geometry] if geometry else None}


def worker_for(session: Session, dispute: Dispute, body: DecisionIn) -> int:
    worker_id = body.worker_id or dispute.worker_id
    if worker_id is None and dispute.assignment_id is not None:
        assignment = repo.get_assignment(session, dispute.assignment_id)
        worker_id = assignment.worker_id if assignment else None
    if worker_id is None:
        raise InvalidInput("say which worker to ban: 'worker_id'", field="worker_id")
    if not repo.is_worker(session, worker_id):
        raise InvalidInput(f"there is no worker with id {worker_id}", field="worker_id")
    return worker_id
