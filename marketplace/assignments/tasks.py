"""Background task bodies of the assignment server (ids in, idempotent)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy.orm import Session

from marketplace.assignments import repository, service
from marketplace.config import get_settings
from marketplace.db import session_scope
from marketplace.flows import completion, scoring, stage_sequence, stranded
from marketplace.models import utcnow
from workers.celery_app import celery_app
from workers.enqueue import enqueue_after_release

EXPIRE_EVERY_S = 60.0
log = logging.getLogger(__name__)


def run_scoring(factory: Callable[[], Session], assignment_id: int) -> str | None:
    with session_scope(factory) as session:
        status = scoring.score_submission(session, assignment_id)
    return status.value if status is not None else None


def run_expiry(factory: Callable[[], Session] | None = None) -> int:
    """The periodic sweep: overdue assignments back to the pool; chunks no member of a team job may
    take any more to a reviewer; waiting chunks of pipeline stages in sequence whose images the stage
    before has finished (by paths other than scoring, e.g. a reviewer's decision) opened; then, as
    safety nets, complete any active job whose chunks are all
    done and score submissions whose scoring task was lost. Returns the number expired."""
    with session_scope(factory) as session:
        expired = service.expire_overdue(session, skip_busy=True)
    with session_scope(factory) as session:
        stranded.review_stranded_team_chunks(session)
    with session_scope(factory) as session:
        stage_sequence.open_all_ready(session)
    with session_scope(factory) as session:
        completion.complete_finished_jobs(session)
    rescore_stale_submissions(factory)
    return expired


def rescore_stale_submissions(
    factory: Callable[[], Session] | None = None, older_than_s: float | None = None, limit: int = 500
) -> int:
    """Score ``submitted`` assignments whose scoring task never ran to the end: the broker was down at
    commit time, the worker was killed mid-task, the task failed on a dropped database connection.
    Older than ``rescore_after_s``; scoring is idempotent; each in its own transaction. Returns how
    many were settled now."""
    if older_than_s is None:
        older_than_s = get_settings().rescore_after_s
    cutoff = utcnow() - timedelta(seconds=older_than_s)
    with session_scope(factory) as session:
        ids = repository.stale_submission_ids(session, cutoff, limit)
    settled = 0
    for assignment_id in ids:
        try:
            settled += run_scoring(factory or _default_factory(), assignment_id) is not None
        except Exception:
            log.exception("re-scoring assignment %s failed; the next sweep retries", assignment_id)
    if settled:
        log.warning("re-scored %s submission(s) whose scoring task was lost", settled)
    return settled


@celery_app.task(name="assignments.score_assignment")
def score_assignment_task(assignment_id: int) -> str | None:
    return run_scoring(_default_factory(), assignment_id)


@celery_app.task(name="assignments.expire_overdue")
def expire_overdue_task() -> int:
    return run_expiry(_default_factory())


def _default_factory() -> Callable[[], Session]:
    from marketplace.db import session_factory

    return session_factory()


def enqueue_scoring(session: Session, assignment_id: int) -> None:
    """Score after the submission commits (without a broker, in this process on the caller's own
    database once its connection is back in the pool: tests and the embedded default)."""
    enqueue_after_release(
        session,
        "assignments.score_assignment",
        lambda factory: run_scoring(factory, assignment_id),
        assignment_id,
    )
