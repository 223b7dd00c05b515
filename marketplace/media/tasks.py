"""Background task bodies of the media domain (ids in, idempotent)."""

from __future__ import annotations

import logging
from datetime import timedelta

from marketplace.config import get_settings
from marketplace.db import session_factory, session_scope
from marketplace.flows import activation
from marketplace.media import repository
from marketplace.models import utcnow
from workers.celery_app import celery_app

log = logging.getLogger(__name__)
#: an ``ingesting`` job whose progress has not moved for this long lost its task: run it again
STALLED_AFTER_S = 300.0


@celery_app.task(name="media.ingest_job", acks_late=True, reject_on_worker_lost=True)
def ingest_job(job_id: int) -> str | None:
    settings = get_settings()
    status = activation.run_ingest(session_factory(settings), settings, job_id)
    return status.value if status is not None else None


@celery_app.task(name="media.resume_stalled_ingests", acks_late=True)
def resume_stalled_ingests() -> int:
    """Beat: ingests whose task was lost (broker down at commit, worker killed) run again; an ingest
    resumes where it stopped. Returns how many were resumed."""
    settings = get_settings()
    factory = session_factory(settings)
    with session_scope(factory) as session:
        job_ids = repository.stalled_ingests(session, utcnow() - timedelta(seconds=STALLED_AFTER_S))
    for job_id in job_ids:
        log.warning("job %s: its ingest stalled; resuming it", job_id)
        try:
            activation.run_ingest(factory, settings, job_id)
        except Exception:
            log.exception("resuming the ingest of job %s failed; the next sweep retries", job_id)
    return len(job_ids)
