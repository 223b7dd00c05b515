"""Funding: money for a job arrives on its rail, and the job opens for work.

The rails tell us through an inbox (signed Stripe webhooks, confirmed ``JobFunded`` logs of the vault),
each event stored under its external id before any work and applied once:

1. payments matches the event to a job's funding (right intent or vault job, currency, token) and
   records the deposit in the ledger, once per funding;
2. a job cancelled before its money arrived, or funded with less than its bounty, gives it all back
   (payouts settle the job as cancelled);
3. otherwise the job activates (:mod:`marketplace.flows.activation`): its images are made into
   serving renditions, then the platform fee is taken and the images are cut into chunks the
   assignment server opens to workers.
"""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from marketplace.flows.activation import activate
from marketplace.jobs.states import transition
from marketplace.models import InboxStatus, JobFunding, JobStatus
from marketplace.payments import service as payments
from marketplace.payments.rails import Rails
from marketplace.payouts import service as payouts

log = logging.getLogger(__name__)
__all__ = ["activate", "funds_arrived", "poll_chain_funding", "process_inbox_event"]


def funds_arrived(session: Session, funding: JobFunding, amount: int, *, source: str) -> bool:
    """Apply a verified deposit; False when this funding had been applied already."""
    job = payments.record_deposit(session, funding, amount, source=source)
    if job is None:
        return False
    if job.status is not JobStatus.awaiting_funds:
        log.warning("job %s is %s but funding arrived; refunding it", job.id, job.status.value)
        payouts.settle(session, job, action="cancel")
    elif amount < funding.amount:
        log.error("job %s funded with %s < bounty %s; refunding", job.id, amount, funding.amount)
        transition(job, JobStatus.cancelled)
        payouts.settle(session, job, action="cancel")
    else:
        activate(session, job)  # the fee is taken when the job opens (a job that never opens owes none)
    return True


def process_inbox_event(session: Session, inbox_id: int, rails: Rails) -> str:
    """Apply one stored event (idempotent: a row already handled keeps its status)."""
    row = payments.lock_inbox(session, inbox_id)
    if row is None:
        return "busy"
    if row.status is not InboxStatus.pending:
        return row.status.value
    deposit = payments.match_deposit(session, row)
    if isinstance(deposit, str):
        return payments.close_inbox(row, deposit)
    applied = funds_arrived(session, deposit.funding, deposit.amount, source=deposit.source)
    return payments.close_inbox(row, "applied" if applied else "ignored: already funded")


def poll_chain_funding(session: Session, rails: Rails, *, max_blocks: int = 5_000) -> int:
    """Read confirmed vault logs into the inbox and apply every pending one. Returns how many applied."""
    payments.ingest_chain_logs(session, rails, max_blocks=max_blocks)
    applied = 0
    for inbox_id in payments.pending_inbox_ids(session, "chain"):
        applied += process_inbox_event(session, inbox_id, rails) == InboxStatus.applied.value
    return applied
