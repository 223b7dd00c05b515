"""Background task bodies of pipelines (idempotent)."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from marketplace.db import session_scope
from marketplace.models import utcnow
from marketplace.pipelines import service
from workers.celery_app import celery_app


def run_reassign_overdue(factory: Callable[[], Session] | None = None) -> int:
    """Issues whose fix is overdue go to another annotator of the stage."""
    with session_scope(factory) as session:
        return service.reassign_overdue(session, utcnow())


@celery_app.task(name="pipelines.reassign_overdue_issues", acks_late=True)
def reassign_overdue_issues() -> int:
    return run_reassign_overdue()
