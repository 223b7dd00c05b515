"""Background task bodies of pipelines (idempotent)."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from marketplace.db import session_scope
from marketplace.flows import pipeline as pipeline_flow
from marketplace.models import utcnow
from marketplace.pipelines import service
from workers.celery_app import celery_app


def run_reassign_overdue(factory: Callable[[], Session] | None = None) -> int:
    """Issues whose fix is overdue go to another annotator of the stage; and, as a safety net, a
    completed stage's merge whose task was lost is done."""
    with session_scope(factory) as session:
        pipeline_flow.merge_missed_stages(session)
    with session_scope(factory) as session:
        return service.reassign_overdue(session, utcnow())


@celery_app.task(name="pipelines.stage_completed", acks_late=True)
def stage_completed(job_id: int) -> None:
    """A completed annotate stage's merged work onto the pipeline's items (idempotent)."""
    pipeline_flow.run_stage_merge(None, job_id)


@celery_app.task(name="pipelines.reassign_overdue_issues", acks_late=True)
def reassign_overdue_issues() -> int:
    return run_reassign_overdue()
