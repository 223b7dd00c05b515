"""The job lifecycle as one explicit state machine.

draft → awaiting_funds → active ⇄ validating → completed, with cancelled and failed exits.
"""

from __future__ import annotations

from marketplace.errors import Conflict
from marketplace.models import Job, JobStatus, utcnow

S = JobStatus

ALLOWED: dict[JobStatus, frozenset[JobStatus]] = {
    S.draft: frozenset({S.awaiting_funds, S.active, S.cancelled}),
    S.awaiting_funds: frozenset({S.active, S.cancelled, S.failed}),
    S.active: frozenset({S.validating, S.completed, S.cancelled, S.failed}),
    S.validating: frozenset({S.active, S.completed, S.cancelled, S.failed}),
    S.completed: frozenset(),
    S.cancelled: frozenset(),
    S.failed: frozenset(),
}


def can_transition(current: JobStatus, target: JobStatus) -> bool:
    return target in ALLOWED[current]


def transition(job: Job, target: JobStatus) -> None:
    if not can_transition(job.status, target):
        raise Conflict(f"job {job.id} is {job.status.value}; it cannot become {target.value}")
    job.status = target
    job.updated_at = utcnow()
