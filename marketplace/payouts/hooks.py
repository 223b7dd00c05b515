"""What the assignment server and the quality engine call when work is accepted. Never commits.

A job that was activated without going through payments (no :class:`JobFunding`, e.g. in tests of
other engines) has no money to move: the hooks log and return.
"""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from marketplace.jobs.states import transition
from marketplace.models import FundingStatus, Job, JobStatus
from marketplace.payments import repository as payments_repo
from marketplace.payouts import service
from marketplace.payouts.service import AssignmentLike

log = logging.getLogger(__name__)


def _funded(session: Session, job_id: int) -> bool:
    funding = payments_repo.funding_for_job(session, job_id)
    if funding is None or funding.status is not FundingStatus.succeeded:
        log.warning("job %s has no completed funding; no money is moved", job_id)
        return False
    return True


def on_assignment_accepted(session: Session, assignment: AssignmentLike) -> None:
    """An assignment was accepted: its worker earns the job's pay per assignment (once). With the
    ``on_acceptance`` schedule the periodic payout tick sends it within minutes; with
    ``on_completion`` it waits for :func:`on_job_dataset_complete`."""
    if _funded(session, assignment.job_id):
        service.make_payable(session, assignment)


def on_assignment_overturned(session: Session, assignment: AssignmentLike, *, counted: bool) -> None:
    """A reviewer overturned a rejection. ``counted``: the work took its chunk's free place and is paid
    from the job's budget like any acceptance; otherwise the chunk was finished by others meanwhile and
    the worker is paid out of the platform's fee (refused when the job is settled or the fee too small).
    """
    if counted:
        on_assignment_accepted(session, assignment)
    elif _funded(session, assignment.job_id):
        service.make_payable(session, assignment, from_fee=True)


def on_job_dataset_complete(session: Session, job: Job) -> None:
    """The whole dataset is accepted: the job completes; pay everyone, sweep the fee, refund the
    remainder, close it on its rail."""
    if job.status in (JobStatus.active, JobStatus.validating):
        transition(job, JobStatus.completed)
    if _funded(session, job.id):
        service.settle(session, job, action="complete")
