"""The job lifecycle as one explicit state machine.

draft → awaiting_funds → ingesting → active ⇄ validating → completed, with cancelled and failed
exits. ``ingesting`` is the activation: the money is secured and every image is being made into its
serving rendition (:mod:`marketplace.flows.activation`); a job opens for work only from there, so no
job is ever active with images workers cannot be served.
"""

from __future__ import annotations

from marketplace.models import Job, JobStatus, utcnow
from marketplace.statemachine import StateMachine

S = JobStatus

ALLOWED: dict[JobStatus, frozenset[JobStatus]] = {
    S.draft: frozenset({S.awaiting_funds, S.ingesting, S.cancelled}),
    S.awaiting_funds: frozenset({S.ingesting, S.cancelled, S.failed}),
    S.ingesting: frozenset({S.active, S.cancelled, S.failed}),
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
