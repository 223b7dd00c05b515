"""Scoring outcome: a submitted assignment is scored on its hidden GT and settled.

1. the submission is locked (its job first, so a cancel and a scoring are ordered);
2. the quality engine scores it on its GT items (a video segment: on the GT frames inside it,
   :mod:`marketplace.quality.video_service`) and records what that says about the worker and the
   GT (conflicts, SPRT and bans, speed flags, GT ratings);
3. accepted: the worker earns the pay per assignment; when this finished its chunk, the chunk's
   uncertain images may go to one more worker (dynamic overlap), and when it was the last chunk the
   job completes; rejected: the chunk's slot goes back to the pool, and after ``max_attempts`` failures
   the chunk waits for a reviewer.

Idempotent: anything no longer ``submitted`` is left alone (a replayed task, the rescore sweep, a
cancel that scored it first).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from marketplace.assignments import outcomes as assignments
from marketplace.assignments import scoring
from marketplace.flows import completion, stage_sequence
from marketplace.models import AssignmentStatus, utcnow
from marketplace.payouts import service as payouts
from marketplace.quality import dynamic_overlap
from marketplace.quality import service as quality
from marketplace.quality import video_service as video_quality
from marketplace.reviews import service as reviews
from marketplace.telemetry import metrics


def score_submission(session: Session, assignment_id: int) -> AssignmentStatus | None:
    found = assignments.lock_submitted(session, assignment_id)
    if found is None:
        return None
    assignment, job = found
    plugged = scoring.scorer_override(job)
    if job.is_video and plugged is None:
        result = video_quality.score_video_and_record(session, job, assignment)
    else:
        gt, answers = quality.scoring_inputs(session, job, assignment)
        if plugged is not None:
            result = plugged.score(job, gt, answers)
        else:
            result = quality.score_and_record(session, job, gt, answers)
    assignments.record_score(assignment, result)
    _count_scored(session, result.accepted, assignment.submitted_at)
    if result.accepted:
        beyond = completion.COMPLETION_LOCK_BELOW + 1  # this chunk is still unfinished when read
        finished_chunk, many_left = assignments.accept_probing(session, job, assignment, beyond)
        payouts.earn(session, assignment)
        if finished_chunk:  # (extra chunks dynamic overlap may cut only add to those left)
            dynamic_overlap.after_chunk_done(session, job, assignment.chunk_id)
            completion.complete_if_done(session, job, many_left=many_left)
            if job.pipeline_id is not None:  # a stage in sequence after this one may open work
                stage_sequence.open_ready(session, job)
    else:
        exhausted = assignments.reject(session, job, assignment)
        if exhausted is not None:
            reviews.on_chunk_exhausted(session, exhausted)
    return assignment.status


def _count_scored(session: Session, accepted: bool, submitted_at: datetime | None) -> None:
    lag = (utcnow() - submitted_at).total_seconds() if submitted_at is not None else None

    def count() -> None:
        metrics.SCORED.labels("accepted" if accepted else "rejected").inc()
        if lag is not None:
            metrics.SCORING_LAG.observe(max(0.0, lag))

    metrics.after_commit(session, count)
