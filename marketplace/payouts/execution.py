"""Sending payout batches, exactly once.

:func:`execute_one` takes one outbox row with ``FOR UPDATE SKIP LOCKED`` (a second worker skips it;
a killed worker's lock dies with its connection), **reconciles with the rail first** and only then
sends:

* chain, workers/fee batch: ``payoutDone(payoutId)`` on the vault; if done, nothing is sent. The payout
  id comes from our payout row, and the vault refuses an id twice, so even a send racing a send cannot
  pay twice (``PayoutAlreadyDone`` is taken as success).
* chain, refund: the vault's job status; ``complete``/``cancel`` only while it is still funded.
* card, workers: per recipient, a transfer with idempotency key ``<ns>:payout:<id>:user:<uid>`` (after
  looking it up by that key in the job's ``transfer_group``).
* card, refund: a refund of the PaymentIntent with key ``<ns>:payout:<id>`` (after looking it up).

The outbox row, the payout status and the recorded external ids change in the caller's transaction;
if the process dies between sending and committing, the next attempt reconciles and finds it done.
A refund waits until every earlier payout of its job is done (on chain, closing refunds the vault's
remainder, so it must come last).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.orm import Session

from marketplace.escrow.chain import EscrowRevert
from marketplace.escrow.chain import JobStatus as ChainJobStatus
from marketplace.models import JobFunding, Payout, PayoutKind, PayoutStatus, Rail, utcnow
from marketplace.payments import repository as payments_repo
from marketplace.payments.rails import Rails
from marketplace.payouts import repository as repo
from marketplace.payouts import states
from marketplace.telemetry import metrics

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    payout_id: int | None
    result: str  # sent | reconciled | waiting | busy


class CrashForTest(BaseException):
    """Raised by a test's fault hook to simulate the process dying mid-payout."""


#: Test hook: called as ``fault(stage, payout)`` at ``before_send`` and ``after_send``.
fault_hook = None


def _fault(stage: str, payout: Payout) -> None:
    if fault_hook is not None:
        fault_hook(stage, payout)


def execute_one(session: Session, rails: Rails, payout_id: int | None = None) -> Outcome:
    now = utcnow()
    row = repo.lock_due_outbox(session, payout_id, now)
    if row is None:
        return Outcome(payout_id, "busy")
    payout = session.get(Payout, row.payout_id)
    assert payout is not None
    if payout.status is not PayoutStatus.pending:
        row.processed_at = now
        return Outcome(payout.id, "reconciled")
    if payout.kind is PayoutKind.refund and repo.other_pending_payouts(session, payout.job_id, payout.id):
        row.available_at = now + timedelta(seconds=2)
        return Outcome(payout.id, "waiting")
    funding = payments_repo.funding_for_job(session, payout.job_id)
    assert funding is not None
    if payout.rail is Rail.chain:
        result = _chain(session, rails, payout, funding)
    else:
        result = _card(session, rails, payout, funding)
    states.PAYOUT.move(payout, PayoutStatus.done)
    payout.completed_at = utcnow()
    row.processed_at = payout.completed_at
    _count_sent(session, payout)
    return Outcome(payout.id, result)


def _count_sent(session: Session, payout: Payout) -> None:
    rail, kind = payout.rail.value, payout.kind.value
    lag = (payout.completed_at - payout.created_at).total_seconds() if payout.completed_at else 0.0

    def count() -> None:
        metrics.PAYOUTS_SENT.labels(rail, kind).inc()
        metrics.PAYOUT_LAG.labels(rail).observe(max(0.0, lag))

    metrics.after_commit(session, count)


def _chain(session: Session, rails: Rails, payout: Payout, funding: JobFunding) -> str:
    escrow = rails.need_chain()
    assert funding.chain_job_id is not None
    # One operator account: serialise its transactions across workers (nonces).
    repo.take_operator_lock(session)
    if payout.kind is PayoutKind.refund:
        info = escrow.get_job(funding.chain_job_id)
        if info.status is not ChainJobStatus.FUNDED:
            return "reconciled"
        if info.remaining != payout.total:
            log.error(
                "job %s: vault holds %s but the ledger refunds %s",
                payout.job_id,
                info.remaining,
                payout.total,
            )
        _fault("before_send", payout)
        tx = (
            escrow.cancel(funding.chain_job_id)
            if payout.close_action == "cancel"
            else escrow.complete(funding.chain_job_id)
        )
        payout.tx_hash = tx.tx_hash
        _fault("after_send", payout)
        return "sent"
    assert payout.external_ref is not None
    if escrow.is_payout_done(payout.external_ref):
        return "reconciled"
    items = repo.items(session, payout.id)
    _fault("before_send", payout)
    try:
        tx = escrow.bulk_pay_out(
            funding.chain_job_id,
            payout.external_ref,
            [i.destination for i in items],
            [i.amount for i in items],
        )
    except EscrowRevert as exc:
        if exc.name == "PayoutAlreadyDone":
            return "reconciled"
        raise
    payout.tx_hash = tx.tx_hash
    _fault("after_send", payout)
    return "sent"


def record_results(session: Session, rails: Rails, job_id: int, url: str, digest: bytes) -> str:
    """Write where a job's results live and their hash on its vault record (chain rail only); the
    vault takes it while the job is funded and after it completed. Reconciles first: ``reconciled``
    when the vault already holds them, ``skipped`` off chain."""
    funding = payments_repo.funding_for_job(session, job_id)
    if funding is None or funding.rail is not Rail.chain or funding.chain_job_id is None:
        return "skipped"
    escrow = rails.need_chain()
    repo.take_operator_lock(session)
    info = escrow.get_job(funding.chain_job_id)
    if (info.results_hash, info.results_url) == (digest, url):
        return "reconciled"
    escrow.store_results(funding.chain_job_id, url, digest)
    return "sent"


def _card(session: Session, rails: Rails, payout: Payout, funding: JobFunding) -> str:
    ns = rails.settings.payout_namespace
    if payout.kind is PayoutKind.refund:
        card = rails.need_card()
        assert funding.stripe_payment_intent_id is not None
        key = f"{ns}:payout:{payout.id}"
        found = card.find_refund(payment_intent=funding.stripe_payment_intent_id, key=key)
        if found is not None:
            payout.external_ref = found.id
            return "reconciled"
        _fault("before_send", payout)
        refund = card.refund(
            payment_intent=funding.stripe_payment_intent_id,
            amount=payout.total,
            idempotency_key=key,
            metadata={"tilework_key": key, "job_id": str(payout.job_id)},
        )
        payout.external_ref = refund.id
        _fault("after_send", payout)
        return "sent"
    if payout.kind is PayoutKind.fee:
        return "reconciled"  # the fee never leaves the platform's Stripe balance
    connect = rails.need_connect()
    group = f"{ns}:job:{payout.job_id}"
    result = "reconciled"
    for item in repo.items(session, payout.id):
        key = f"{ns}:payout:{payout.id}:user:{item.user_id}"
        transfer = connect.find_transfer(transfer_group=group, idempotency_key=key)
        if transfer is None:
            _fault("before_send", payout)
            transfer = connect.transfer(
                destination=item.destination,
                amount=item.amount,
                currency=payout.currency,
                transfer_group=group,
                idempotency_key=key,
                metadata={"job_id": str(payout.job_id), "payout_id": str(payout.id)},
            )
            result = "sent"
            _fault("after_send", payout)
        item.external_ref = transfer.id
    return result


def backoff_s(attempts: int, base: float, cap: float) -> float:
    return float(min(cap, base * (2 ** max(0, attempts - 1))))


def record_failure(session: Session, payout_id: int, error: str, base: float, cap: float) -> int:
    attempts = repo.outbox_attempts(session, payout_id) + 1
    return repo.record_outbox_failure(
        session, payout_id, error, utcnow() + timedelta(seconds=backoff_s(attempts, base, cap))
    )
