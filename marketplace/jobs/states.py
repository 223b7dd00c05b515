"""The job lifecycle as one explicit state machine.

draft → awaiting_funds → active ⇄ validating → completed, with cancelled and failed exits.
"""

from __future__ import annotations

from marketplace.models import Job, JobStatus, utcnow
from marketplace.statemachine import StateMachine

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


JOB = StateMachine("job", ALLOWED)


def can_transition(current: JobStatus, target: JobStatus) -> bool:
    return JOB.can(current, target)


def transition(job: Job, target: JobStatus) -> None:
    JOB.move(job, target)
    job.updated_at = utcnow()
