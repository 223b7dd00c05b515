"""Completion: the whole dataset is accepted.

1. the job becomes ``completed``; everyone is paid, the fee swept and the rest refunded (payouts);
2. the accepted work is merged and exported, after commit (quality's finalize task, also swept);
3. on the chain rail, where the results live and their hash (:func:`quality.export.results_digest`)
   go on the job's vault record, after the export's commit (:func:`record_results`, task
   ``payouts.record_results``; again after a reviewer's fix re-exports).

There is one way in: :func:`complete_if_done`, called by every event that can finish the last chunk
(an acceptance, a reviewer's overturn or reopen, the periodic sweep).
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from marketplace.assignments import repository as assignments_repo
from marketplace.config import Settings
from marketplace.flows import pipeline
from marketplace.jobs.states import transition
from marketplace.models import Job, JobStatus
from marketplace.payments.rails import Rails
from marketplace.payouts import execution as payout_execution
from marketplace.payouts import service as payouts
from marketplace.quality import dynamic_overlap, export
from marketplace.quality import tasks as quality_tasks

OPEN = (JobStatus.active, JobStatus.validating)

# A transaction that sees more unfinished chunks than this skips the job lock: that many chunks cannot
# all be finished by transactions overlapping its own (the periodic sweep backs it up).
COMPLETION_LOCK_BELOW = 1000


def complete_if_done(
    session: Session, job: Job, *, lock_below: int = COMPLETION_LOCK_BELOW, many_left: bool = False
) -> bool:
    """Complete ``job`` if no chunk is left; exactly one of two concurrent last acceptances does.

    While many chunks are unfinished nobody can be the last, so the job lock (which would serialise
    every acceptance of the job) is skipped then. ``many_left``: the caller already knows more than
    ``lock_below`` are unfinished (read with the chunk it locked; saves the query)."""
    if many_left:
        return False
    session.flush()
    if assignments_repo.has_unfinished_chunks(session, job.id, beyond=lock_below):
        return False
    assignments_repo.lock_job(session, job.id)
    if job.status not in OPEN or assignments_repo.has_unfinished_chunks(session, job.id):
        return False
    if dynamic_overlap.cut(session, job, final=True):
        return False  # the last uncertain images went to one more worker first
    transition(job, JobStatus.completed)
    payouts.settle_completed(session, job)
    quality_tasks.schedule_finalize(session, job.id)
    pipeline.schedule_stage_merge(session, job)  # a stage of a pipeline: its work goes on to QA
    return True


def complete_finished_jobs(session: Session) -> int:
    """Safety net of the periodic sweep: complete open jobs whose every chunk is done."""
    done = 0
    for job_id in assignments_repo.active_jobs_with_chunks(session):
        job = session.get(Job, job_id)
        if job is not None and complete_if_done(session, job, lock_below=0):
            done += 1
    return done


def record_results(session: Session, rails: Rails, job_id: int, settings: Settings) -> str:
    """Put the exported results' location and hash on the job's vault record (chain rail)."""
    digest = export.results_digest(session, job_id)
    if digest is None:
        return "not exported"
    url = f"{settings.public_base_url.rstrip('/')}/api/jobs/{job_id}/results"
    return payout_execution.record_results(session, rails, job_id, url, digest)
