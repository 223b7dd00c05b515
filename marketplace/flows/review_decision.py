"""Review decision: a reviewer settles a dispute, once.

1. the dispute is locked (409 when it was decided already);
2. the action is applied across the domains it touches:
   - ``uphold``: nothing changes;
   - ``overturn``: the rejection becomes an acceptance; the worker is paid once, from the job's budget
     when the chunk still had the place, else out of the platform's fee (payouts refuse when nothing
     can cover it);
   - ``fix_gt_label`` / ``retire_gt``: the GT image is corrected or retired, and rejected work that
     passes on the corrected GT is overturned as above; ``restore_gt`` puts a retired image back;
   - ``ban_worker``: the worker takes no more assignments in the job;
   - ``reopen_chunk``: a chunk that exhausted its attempts goes back to the pool;
   - ``unlink`` (``ambiguous_stitch``): the segment's track starts a new id at the re-export;
3. the decision is recorded with who and when; an overturn that finished the last chunk completes
   the job; a decision that changes the data of a completed job re-exports its results.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from marketplace.assignments import outcomes as assignments
from marketplace.config import Settings
from marketplace.errors import InvalidInput
from marketplace.flows import completion, dispute_view
from marketplace.models import Assignment, Dispute, DisputeKind, Job, JobStatus, User
from marketplace.payouts import service as payouts
from marketplace.quality import export
from marketplace.quality import service as quality
from marketplace.quality import workers as quality_workers
from marketplace.reviews import service as reviews
from marketplace.reviews.schemas import Action, DecisionIn, DisputeDetailOut

Handler = Callable[[Session, User, Dispute, Job, DecisionIn], dict[str, Any]]
#: Decisions that leave a completed job's data as it was (no re-export).
KEEPS_DATA = frozenset({Action.uphold, Action.ban_worker})


def decide(
    session: Session, reviewer: User, dispute_id: int, body: DecisionIn, settings: Settings
) -> DisputeDetailOut:
    dispute, job = reviews.open_dispute_for_decision(session, dispute_id)
    effects = HANDLERS[body.action](session, reviewer, dispute, job, body)
    reviews.record_decision(session, dispute, reviewer, body, effects)
    if job.status in completion.OPEN:
        completion.complete_if_done(session, job, lock_below=0)
    if job.status is JobStatus.completed and body.action not in KEEPS_DATA:
        export.finalize_job(session, job.id, settings, force=True)
    return dispute_view.get_dispute(session, dispute.id, settings)


def _overturn_paid(session: Session, job: Job, assignment: Assignment) -> None:
    counted = quality.accept_after_review(session, job, assignment)
    payouts.earn_overturned(session, assignment, counted=counted)


def _uphold(session: Session, reviewer: User, dispute: Dispute, job: Job, body: DecisionIn) -> dict[str, Any]:
    return {}


def _overturn(
    session: Session, reviewer: User, dispute: Dispute, job: Job, body: DecisionIn
) -> dict[str, Any]:
    assignment = reviews.assignment_for(session, dispute, body)
    _overturn_paid(session, job, assignment)
    return {"assignment_id": assignment.id, "status": assignment.status.value}


def _rescore_with_fixed_gt(session: Session, job: Job, image_id: int) -> list[int]:
    overturned = quality.rescore_rejected_with_image(session, job, image_id)
    for assignment, counted in overturned:
        payouts.earn_overturned(session, assignment, counted=counted)
    return [assignment.id for assignment, _ in overturned]


def _fix_gt_label(
    session: Session, reviewer: User, dispute: Dispute, job: Job, body: DecisionIn
) -> dict[str, Any]:
    image_id = reviews.image_for(dispute, body)
    quality.check_gt_image(session, job, image_id)
    if body.gt_objects is None:
        raise InvalidInput("fix_gt_label needs 'gt_objects': the correct GT answer", field="gt_objects")
    objects = [reviews.checked_gt_object(job, o.label, o.geometry) for o in body.gt_objects]
    quality.restore_gt_image(session, job, image_id, objects)
    overturned = _rescore_with_fixed_gt(session, job, image_id)
    return {"image_id": image_id, "gt_objects": objects, "overturned": overturned}


def _retire_gt(
    session: Session, reviewer: User, dispute: Dispute, job: Job, body: DecisionIn
) -> dict[str, Any]:
    image_id = reviews.image_for(dispute, body)
    quality.check_gt_image(session, job, image_id)
    quality.retire_gt_image(session, job, image_id, f"retired by reviewer {reviewer.id}", open_review=False)
    overturned = _rescore_with_fixed_gt(session, job, image_id)
    return {"image_id": image_id, "overturned": overturned}


def _restore_gt(
    session: Session, reviewer: User, dispute: Dispute, job: Job, body: DecisionIn
) -> dict[str, Any]:
    image_id = reviews.image_for(dispute, body)
    quality.check_gt_image(session, job, image_id)
    quality.restore_gt_image(session, job, image_id, quality.current_gt_objects(session, image_id))
    return {"image_id": image_id}


def _ban_worker(
    session: Session, reviewer: User, dispute: Dispute, job: Job, body: DecisionIn
) -> dict[str, Any]:
    worker_id = reviews.worker_for(session, dispute, body)
    reason = f"banned by reviewer {reviewer.id}: {body.comment}".strip()
    quality_workers.ban_worker(session, job.id, worker_id, reason)
    return {"worker_id": worker_id}


def _reopen_chunk(
    session: Session, reviewer: User, dispute: Dispute, job: Job, body: DecisionIn
) -> dict[str, Any]:
    if dispute.chunk_id is None:
        raise InvalidInput("only a chunk dispute can reopen a chunk", field="action")
    assignments.reopen_chunk(session, dispute.chunk_id)
    return {"chunk_id": dispute.chunk_id}


def _unlink(session: Session, reviewer: User, dispute: Dispute, job: Job, body: DecisionIn) -> dict[str, Any]:
    if dispute.kind is not DisputeKind.ambiguous_stitch:
        raise InvalidInput("only an ambiguous_stitch dispute can unlink a track", field="action")
    return {"subject": dispute.subject_key}


HANDLERS: dict[Action, Handler] = {
    Action.uphold: _uphold,
    Action.overturn: _overturn,
    Action.fix_gt_label: _fix_gt_label,
    Action.retire_gt: _retire_gt,
    Action.restore_gt: _restore_gt,
    Action.ban_worker: _ban_worker,
    Action.reopen_chunk: _reopen_chunk,
    Action.unlink: _unlink,
}
