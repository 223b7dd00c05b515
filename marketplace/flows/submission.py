"""Submission: a worker hands in the answers of an assignment.

1. the assignment server validates and stores them; the assignment becomes ``submitted`` (and the
   worker's assignment claimed ahead becomes current);
2. after commit, its scoring runs in the background (the scoring flow, task
   ``assignments.score_assignment``). A replay of the same answers while the assignment still waits
   for its score asks again: scoring is idempotent, and a lost task is found that way sooner than by
   the periodic re-scoring sweep.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from marketplace.assignments import service as assignments
from marketplace.assignments import tasks as assignment_tasks
from marketplace.assignments.schemas import SubmissionIn, SubmitOut
from marketplace.models import AssignmentStatus, User


def submit(session: Session, worker: User, assignment_id: int, body: SubmissionIn) -> SubmitOut:
    out = assignments.submit(session, worker, assignment_id, body)
    if out.status is AssignmentStatus.submitted:
        assignment_tasks.enqueue_scoring(session, out.assignment_id)
    return out
