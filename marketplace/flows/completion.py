"""Completion: the whole dataset is accepted.

1. the job becomes ``completed``; everyone is paid, the fee swept and the rest refunded (payouts);
2. the accepted work is merged and exported, after commit (quality's finalize task, also swept).

There is one way in: :func:`complete_if_done`, called by every event that can finish the last chunk
(an acceptance, a reviewer's overturn or reopen, the periodic sweep).
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from marketplace.assignments import repository as assignments_repo
from marketplace.models import Job, JobStatus
from marketplace.payouts import hooks as payout_hooks
from marketplace.quality import tasks as quality_tasks

OPEN = (JobStatus.active, JobStatus.validating)

# A transaction that sees more unfinished chunks than this skips the job lock: that many chunks cannot
# all be finished by transactions overlapping its own (the periodic sweep backs it up).
COMPLETION_LOCK_BELOW = 1000


def complete_if_done(session: Session, job: Job, *, lock_below: int = COMPLETION_LOCK_BELOW) -> bool:
    """Complete ``job`` if no chunk is left; exactly one of two concurrent last acceptances does.

    While many chunks are unfinished nobody can be the last, so the job lock (which would serialise
    every acceptance of the job) is skipped then."""
    session.flush()
    if assignments_repo.has_unfinished_chunks(session, job.id, beyond=lock_below):
        return False
    assignments_repo.lock_job(session, job.id)
    if job.status not in OPEN or assignments_repo.has_unfinished_chunks(session, job.id):
        return False
    payout_hooks.on_job_dataset_complete(session, job)
    quality_tasks.schedule_finalize(session, job.id)
    return True


def complete_finished_jobs(session: Session) -> int:
    """Safety net of the periodic sweep: complete open jobs whose every chunk is done."""
    done = 0
    for job_id in assignments_repo.active_jobs_with_chunks(session):
        job = session.get(Job, job_id)
        if job is not None and complete_if_done(session, job, lock_below=0):
            done += 1
    return done
