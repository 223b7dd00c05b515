"""Cancellation: a requester (or an admin) stops a job.

A draft or unfunded job simply stops. A funded job is locked against submissions first (a submission
and its scoring hold a share lock on their job, so they and the cancel are ordered), then:

1. every assignment still held is withdrawn: its slot is freed and a later submission gets a 409;
2. every submission already stored is scored now, and paid when it passes: work handed in before the
   cancel is never lost, whether or not its scoring task had run;
3. the job becomes ``cancelled`` (unless that scoring finished its dataset: then it completed), and
   the money is settled: accepted work paid, the unearned rest refunded, the job closed on its rail.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from marketplace.assignments import repository as assignments_repo
from marketplace.assignments import service as assignments
from marketplace.flows import scoring
from marketplace.jobs import service as jobs
from marketplace.jobs.states import transition
from marketplace.models import Job, JobStatus, User
from marketplace.payouts import service as payouts


def cancel_job(session: Session, user: User, job_id: int) -> Job:
    job = jobs.get_job_for(session, user, job_id)
    if job.status not in payouts.FUNDED_STATES:
        return jobs.cancel_job(session, user, job_id)
    job = payouts.lock_for_cancel(session, user, job_id)
    assignments.withdraw_open_assignments(session, job)
    for assignment_id in assignments_repo.submitted_ids(session, job.id):
        scoring.score_submission(session, assignment_id)
    if job.status in payouts.FUNDED_STATES:
        transition(job, JobStatus.cancelled)
        payouts.settle(session, job, action="cancel")
    return job
