"""Background task bodies of the quality engine (ids in, idempotent).

``quality.finalize_job`` merges the accepted work of a completed job and exports the results; it is
sent after the commit that completed the job (with a broker) and swept periodically by
``quality.finalize_completed_jobs``. Without a broker (eager mode) nothing is sent from inside the
scoring transaction: the results endpoint and ``tilework job results`` finalize on first request, with
the storage settings of the process that serves them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy.orm import Session

from marketplace.config import Settings, get_settings
from marketplace.db import session_scope
from workers.celery_app import celery_app
from workers.enqueue import enqueue

FINALIZE_SWEEP_S = 120.0
log = logging.getLogger(__name__)


def run_finalize(factory: Callable[[], Session], job_id: int, settings: Settings) -> bool:
    from marketplace.quality import export

    with session_scope(factory) as session:
        return export.finalize_job(session, job_id, settings)


def run_finalize_sweep(factory: Callable[[], Session], settings: Settings) -> int:
    from marketplace.quality import repository

    with session_scope(factory) as session:
        job_ids = repository.completed_jobs_without_results(session)
    return sum(run_finalize(factory, job_id, settings) for job_id in job_ids)


def _default_factory() -> Callable[[], Session]:
    from marketplace.db import session_factory

    return session_factory()


@celery_app.task(name="quality.finalize_job")
def finalize_job_task(job_id: int) -> bool:
    return run_finalize(_default_factory(), job_id, get_settings())


@celery_app.task(name="quality.finalize_completed_jobs")
def finalize_completed_jobs_task() -> int:
    return run_finalize_sweep(_default_factory(), get_settings())


def schedule_finalize(session: Session, job_id: int) -> None:
    """After commit, with a broker: finalize the job if it is complete (the task checks). Without one
    nothing runs inside the scoring transaction's commit (see the module)."""
    enqueue(session, "quality.finalize_job", job_id, eager=lambda: None)
