"""Payout task bodies (ids in, idempotent). ``acks_late``: a task whose worker dies is redelivered, and
the periodic drain finds every unsent outbox row anyway, so nothing depends on one delivery."""

from __future__ import annotations

import logging
import threading
import time
from contextlib import AbstractContextManager, nullcontext

from marketplace.config import get_settings
from marketplace.db import session_factory, session_scope
from marketplace.flows import completion
from marketplace.payments.rails import get_rails
from marketplace.payouts import execution, service
from workers.celery_app import celery_app

log = logging.getLogger(__name__)

#: In-process mode (no broker; typically SQLite, which has no ``SKIP LOCKED``) runs payouts from
#: request threads and the beat thread at once: one lock keeps them from sending the same row twice
#: at the same moment (the chain and Stripe refuse a repeat anyway; this avoids wasted reverted txs).
_IN_PROCESS_LOCK = threading.RLock()


def _serialized() -> AbstractContextManager[object]:
    return _IN_PROCESS_LOCK if celery_app.conf.task_always_eager else nullcontext()


def run_one(payout_id: int | None) -> execution.Outcome:
    """Execute one outbox row in its own transaction; on failure record the attempt and re-raise."""
    ps = get_rails().settings
    try:
        with _serialized(), session_scope(session_factory()) as session:
            return execution.execute_one(session, get_rails(), payout_id)
    except Exception as exc:
        if payout_id is not None:
            with session_scope(session_factory()) as session:
                attempts = execution.record_failure(
                    session,
                    payout_id,
                    f"{type(exc).__name__}: {exc}",
                    ps.payout_backoff_base_s,
                    ps.payout_backoff_max_s,
                )
            log.warning("payout %s failed (attempt %s): %s", payout_id, attempts, exc)
        raise


@celery_app.task(
    name="payouts.execute_payout", bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=None
)
def execute_payout(self, payout_id: int) -> str:
    ps = get_rails().settings
    try:
        return run_one(payout_id).result
    except Exception as exc:
        if celery_app.conf.task_always_eager:
            return "failed"  # the periodic drain retries with backoff
        countdown = execution.backoff_s(
            self.request.retries + 1, ps.payout_backoff_base_s, ps.payout_backoff_max_s
        )
        raise self.retry(exc=exc, countdown=countdown) from exc


def drain(limit: int = 1000, time_budget_s: float = 240.0) -> int:
    """Send due outbox rows, each in its own transaction (``SKIP LOCKED``: rows another worker holds
    are skipped). Rounds repeat while rows become due (a refund waits for its job's batches)."""
    from marketplace.models import utcnow
    from marketplace.payouts import repository

    done = 0
    started = time.monotonic()
    while time.monotonic() - started < time_budget_s:
        with session_scope(session_factory()) as session:
            ids = repository.due_outbox_ids(session, utcnow(), limit)
        progressed = False
        for pid in ids:
            try:
                outcome = run_one(pid)
            except Exception:
                log.exception("payout %s failed; it is retried later", pid)
                continue
            if outcome.result in ("sent", "reconciled"):
                done += 1
                progressed = True
        if not progressed:
            break
    return done


@celery_app.task(name="payouts.drain_outbox", acks_late=True, reject_on_worker_lost=True)
def drain_payout_outbox() -> int:
    return drain()


@celery_app.task(name="payouts.tick", acks_late=True)
def payout_tick() -> int:
    """Batch ``on_acceptance`` earnings and finish settlements (beat, every ``payout_interval_s``)."""
    with session_scope(session_factory()) as session:
        return service.tick(session)


@celery_app.task(name="payouts.record_results", bind=True, acks_late=True, max_retries=None)
def record_results_task(self, job_id: int) -> str:
    """After an export: the results' hash on the job's vault record (the completion flow)."""
    ps = get_rails().settings
    try:
        with _serialized(), session_scope(session_factory()) as session:
            return completion.record_results(session, get_rails(), job_id, get_settings())
    except Exception as exc:
        if celery_app.conf.task_always_eager:
            log.exception("job %s: recording the results on chain failed", job_id)
            return "failed"
        countdown = execution.backoff_s(
            self.request.retries + 1, ps.payout_backoff_base_s, ps.payout_backoff_max_s
        )
        raise self.retry(exc=exc, countdown=countdown) from exc
