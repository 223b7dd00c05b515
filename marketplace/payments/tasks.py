"""Payment task bodies: apply an inbox event, poll the vault for ``JobFunded`` logs."""

from __future__ import annotations

from marketplace.db import session_factory, session_scope
from marketplace.flows import funding
from marketplace.payments import repository
from marketplace.payments.rails import get_rails
from workers.celery_app import celery_app


@celery_app.task(name="payments.process_inbox_event", acks_late=True, reject_on_worker_lost=True)
def process_inbox_event(inbox_id: int) -> str:
    with session_scope(session_factory()) as session:
        return funding.process_inbox_event(session, inbox_id, get_rails())


@celery_app.task(name="payments.process_pending_inbox", acks_late=True)
def process_pending_inbox() -> int:
    """Beat: events stored but not applied (their task was lost) are applied now."""
    with session_scope(session_factory()) as session:
        ids = repository.pending_inbox_ids(session, "stripe")
    for inbox_id in ids:
        process_inbox_event(inbox_id)
    return len(ids)


@celery_app.task(name="payments.poll_chain_funding", acks_late=True)
def poll_chain_funding() -> int:
    with session_scope(session_factory()) as session:
        return funding.poll_chain_funding(session, get_rails())
