"""Paying workers: earnings per accepted assignment, payout batches with their outbox, settlement.

Money flow of a job (see :mod:`marketplace.ledger.service` for the accounts):

* funding (payments) records the bounty and the platform fee, and freezes ``pay_per_assignment`` =
  ``(bounty - fee) // (chunks x overlap)`` on the job's :class:`JobFunding`;
* :func:`make_payable` records one earning per accepted assignment (idempotent per assignment; a
  reviewer overturn calls it too); rejected work is never passed here, so it is never paid;
* :func:`schedule_worker_payouts` turns every worker's unpaid earnings into payout batches: in one
  transaction the ledger ``payout`` entries, the :class:`Payout` rows with one item per recipient
  (grouped: one line per worker however many assignments), and one :class:`PayoutOutbox` row per
  batch. Chain batches hold at most ``payout_batch_size`` recipients (one ``bulkPayOut`` each);
* :func:`settle` (dataset accepted, or the job cancelled) pays what is owed, sweeps the fee to the
  treasury (chain), and refunds the unearned remainder to the requester;
* :mod:`marketplace.payouts.execution` sends the batches, exactly once.

Never commits.
"""

from __future__ import annotations

import logging
from typing import Protocol

from sqlalchemy.orm import Session

from marketplace.errors import (
    BudgetSpent,
    Forbidden,
    JobNotCancellable,
    JobNotFunded,
    JobSettled,
    NotFound,
    OverturnUnfunded,
)
from marketplace.escrow.chain import as_bytes32
from marketplace.ledger import service as ledger
from marketplace.models import (
    FundingStatus,
    Job,
    JobFunding,
    JobStatus,
    Payout,
    PayoutItem,
    PayoutKind,
    PayoutOutbox,
    PayoutSchedule,
    PayoutStatus,
    Rail,
    Role,
    User,
    utcnow,
)
from marketplace.payment_settings import PaymentSettings
from marketplace.payments import repository as payments_repo
from marketplace.payouts import repository as repo
from workers.enqueue import enqueue

log = logging.getLogger(__name__)


class AssignmentLike(Protocol):
    id: int
    job_id: int
    worker_id: int


def earning_key(assignment_id: int) -> str:
    return f"earning:assignment:{assignment_id}"


def chain_payout_id(namespace: str, payout_id: int) -> str:
    """The vault's payout id for our payout row (deterministic: a retry reuses it)."""
    return "0x" + as_bytes32(f"{namespace}:payout:{payout_id}").hex()


def _funding(session: Session, job_id: int) -> JobFunding:
    funding = payments_repo.funding_for_job(session, job_id)
    if funding is None or funding.status is not FundingStatus.succeeded:
        raise JobNotFunded(f"job {job_id} is not funded")
    return funding


# --------------------------------------------------------------------------- earnings


def make_payable(session: Session, assignment: AssignmentLike, *, from_fee: bool = False) -> int:
    """Record that an accepted assignment earns its worker ``pay_per_assignment``, once per assignment.

    From the job's budget (``chunks x overlap`` payable assignments), or with ``from_fee`` out of the
    platform's fee for the job: an overturned rejection whose chunk others finished meanwhile, so the
    budget of the other chunks stays whole. Returns the amount recorded now (0 when it was already
    payable); a 409 with a reason when the job is settled or the money is not there.
    """
    return _make_payable(
        session,
        assignment.job_id,
        assignment.worker_id,
        earning_key(assignment.id),
        f"assignment {assignment.id} accepted",
        from_fee=from_fee,
    )


def make_unit_payable(session: Session, job_id: int, worker_id: int, unit: str, memo: str) -> int:
    """Work other than an assignment (a QA stage's decided item) earns ``pay_per_assignment`` once
    per ``unit``, out of the job's budget of ``payable_assignments`` units; as :func:`make_payable`."""
    return _make_payable(session, job_id, worker_id, f"earning:{unit}", memo, from_fee=False)


def _make_payable(
    session: Session, job_id: int, worker_id: int, key: str, memo: str, *, from_fee: bool
) -> int:
    funding = _funding(session, job_id)
    ledger.lock_job(session, job_id)
    if ledger.earning_exists(session, key):
        return 0
    if funding.closed_at is not None:
        raise JobSettled(
            f"job {job_id} is settled: its money has been paid out and refunded",
        )
    if from_fee:
        fee_left = ledger.fee_balance(session, job_id)
        if fee_left < funding.pay_per_assignment:
            raise OverturnUnfunded(
                f"other workers finished this chunk meanwhile and the job's platform fee left ({fee_left}) "
                f"cannot pay the overturned work ({funding.pay_per_assignment}); uphold instead",
            )
    elif repo.count_earnings(session, job_id) >= funding.payable_assignments:
        raise BudgetSpent(
            f"job {job_id} already paid its {funding.payable_assignments} assignments (chunks x overlap)"
        )
    record = ledger.record_compensation if from_fee else ledger.record_earning
    record(
        session,
        job_id=job_id,
        worker_id=worker_id,
        currency=funding.currency,
        amount=funding.pay_per_assignment,
        idem_key=key,
        memo=memo + (" (overturned; from the fee)" if from_fee else ""),
    )
    return funding.pay_per_assignment


# --------------------------------------------------------------------------- what the flows call
#
# A job activated without going through payments (no completed :class:`JobFunding`, e.g. in tests of
# other engines) has no money to move: these log and return.


def _funded(session: Session, job_id: int) -> bool:
    funding = payments_repo.funding_for_job(session, job_id)
    if funding is None or funding.status is not FundingStatus.succeeded:
        log.warning("job %s has no completed funding; no money is moved", job_id)
        return False
    return True


def earn(session: Session, assignment: AssignmentLike) -> None:
    """An assignment was accepted: its worker earns the job's pay per assignment (once). With the
    ``on_acceptance`` schedule the periodic payout tick sends it within minutes; with
    ``on_completion`` it waits for :func:`settle_completed`."""
    if _funded(session, assignment.job_id):
        make_payable(session, assignment)


def earn_unit(session: Session, job_id: int, worker_id: int, unit: str, memo: str) -> None:
    """A unit of work that is not an assignment was accepted (see :func:`make_unit_payable`)."""
    if _funded(session, job_id):
        make_unit_payable(session, job_id, worker_id, unit, memo)


def earn_overturned(session: Session, assignment: AssignmentLike, *, counted: bool) -> None:
    """A reviewer overturned a rejection. ``counted``: the work took its chunk's free place and is paid
    from the job's budget like any acceptance; otherwise the chunk was finished by others meanwhile and
    the worker is paid out of the platform's fee (refused when the job is settled or the fee too small).
    """
    if counted:
        earn(session, assignment)
    elif _funded(session, assignment.job_id):
        make_payable(session, assignment, from_fee=True)


def settle_completed(session: Session, job: Job) -> None:
    """The whole dataset is accepted: pay everyone, sweep the fee, refund the remainder, close the job
    on its rail."""
    if _funded(session, job.id):
        settle(session, job, action="complete")


# --------------------------------------------------------------------------- payout batches


def _enqueue(session: Session, payout_ids: list[int]) -> None:
    for pid in payout_ids:
        enqueue(session, "payouts.execute_payout", pid)


def _new_payout(
    session: Session,
    job: Job,
    funding: JobFunding,
    kind: PayoutKind,
    total: int,
    ps: PaymentSettings,
    close_action: str | None = None,
) -> Payout:
    payout = Payout(
        job_id=job.id,
        rail=funding.rail,
        kind=kind,
        currency=funding.currency,
        total=total,
        close_action=close_action,
    )
    repo.add(session, payout)
    if funding.rail is Rail.chain and kind is not PayoutKind.refund:
        payout.external_ref = chain_payout_id(ps.payout_namespace, payout.id)
    repo.add(session, PayoutOutbox(payout_id=payout.id, job_id=job.id))
    return payout


def schedule_worker_payouts(session: Session, job: Job, ps: PaymentSettings | None = None) -> list[Payout]:
    """Move every worker's unpaid earnings of ``job`` into payout batches (ledger + outbox, this txn).

    Workers without a verified payout destination on the job's rail stay payable and are paid by a
    later run once they link one.
    """
    ps = ps or _rails_settings()
    funding = _funding(session, job.id)
    ledger.lock_job(session, job.id)
    payable = ledger.payable_by_worker(session, job.id)
    destinations = repo.verified_destinations(session, list(payable), funding.rail)
    recipients = sorted((w, destinations[w], amount) for w, amount in payable.items() if w in destinations)
    size = ps.payout_batch_size
    payouts: list[Payout] = []
    for start in range(0, len(recipients), size):
        batch = recipients[start : start + size]
        payout = _new_payout(session, job, funding, PayoutKind.workers, sum(a for _, _, a in batch), ps)
        repo.add(
            session,
            *[PayoutItem(payout_id=payout.id, user_id=w, destination=d, amount=a) for w, d, a in batch],
        )
        for worker_id, _, amount in batch:
            ledger.record_payout(
                session,
                job_id=job.id,
                worker_id=worker_id,
                currency=funding.currency,
                amount=amount,
                idem_key=f"payout:{payout.id}:user:{worker_id}",
            )
        payouts.append(payout)
    _enqueue(session, [p.id for p in payouts])
    return payouts


def settle(session: Session, job: Job, *, action: str, ps: PaymentSettings | None = None) -> list[Payout]:
    """Pay what is owed, sweep the fee (chain), refund the unearned rest and close the job on its rail.

    ``action`` is ``complete`` or ``cancel`` (the vault call). Idempotent: a second call schedules only
    what is new. On the chain rail the close waits while a worker is owed money but has no wallet (the
    vault would give that money back to the requester).
    """
    ps = ps or _rails_settings()
    funding = _funding(session, job.id)
    payments_repo.funding_for_job(session, job.id, lock=True)
    payouts = schedule_worker_payouts(session, job, ps)
    if funding.closed_at is not None:
        return payouts
    if funding.rail is Rail.chain and ledger.payable_by_worker(session, job.id):
        log.warning("job %s: workers without a wallet are owed money; closing on chain later", job.id)
        return payouts
    if (
        funding.rail is Rail.chain
        and (fee_left := ledger.fee_balance(session, job.id)) > 0
        and not repo.payout_exists(session, job.id, PayoutKind.fee)
    ):
        fee = _new_payout(session, job, funding, PayoutKind.fee, fee_left, ps)
        repo.add(
            session, PayoutItem(payout_id=fee.id, user_id=None, destination=_treasury(), amount=fee.total)
        )
        payouts.append(fee)
    remainder = ledger.unearned(session, job.id)
    if remainder > 0 or funding.rail is Rail.chain:
        refund = _new_payout(session, job, funding, PayoutKind.refund, remainder, ps, close_action=action)
        if remainder > 0:
            ledger.record_refund(
                session,
                job_id=job.id,
                requester_id=job.requester_id,
                currency=funding.currency,
                amount=remainder,
                idem_key=f"refund:payout:{refund.id}",
            )
        payouts.append(refund)
    funding.closed_at = utcnow()
    _enqueue(session, [p.id for p in payouts if p.kind is not PayoutKind.workers])
    return payouts


def _rails_settings() -> PaymentSettings:
    from marketplace.payments.rails import get_rails

    return get_rails().settings


def _treasury() -> str:
    from marketplace.payments.rails import get_rails

    return get_rails().treasury


FUNDED_STATES = (JobStatus.active, JobStatus.validating)


def lock_for_cancel(session: Session, user: User, job_id: int) -> Job:
    """The funded job ``user`` may cancel, locked ``FOR UPDATE``: submissions and scoring in flight
    (they hold a key-share lock on the job) finish first, later ones wait and then see the cancel."""
    job = repo.job(session, job_id, lock=True)
    if job is None or (user.role is not Role.admin and job.requester_id != user.id):
        raise NotFound(f"job {job_id} not found")
    if user.role not in (Role.admin, Role.requester):
        raise Forbidden("only the job's requester can cancel it")
    if job.status not in FUNDED_STATES:
        raise JobNotCancellable(
            f"job {job.id} is {job.status.value}; only an active job is cancelled with a refund"
        )
    return job


def tick(session: Session, ps: PaymentSettings | None = None) -> int:
    """Periodic: batch ``on_acceptance`` earnings, pay late-linked workers of ended jobs, finish
    settlements that waited. Returns the number of payout rows created."""
    ps = ps or _rails_settings()
    created = 0
    for job_id, status, _schedule, closed_at in repo.fundings_needing_work(session):
        job = repo.job(session, job_id)
        if job is None:
            continue
        if status in (JobStatus.completed, JobStatus.cancelled) and closed_at is None:
            created += len(
                settle(session, job, action="complete" if status is JobStatus.completed else "cancel", ps=ps)
            )
        elif ledger.payable_by_worker(session, job_id):
            created += len(schedule_worker_payouts(session, job, ps))
    return created


def earnings_of(session: Session, worker_id: int) -> dict[str, dict[str, int]]:
    """A worker's money per currency over every job: ``paid`` (payouts that reached them), ``sending``
    (scheduled, not yet confirmed) and ``owed`` (earned, waiting for the next batch)."""
    from marketplace.ledger import repository as ledger_repo

    out: dict[str, dict[str, int]] = {"paid": {}, "sending": {}, "owed": {}}
    for (status, currency), amount in repo.worker_payout_totals(session, worker_id=worker_id).items():
        bucket = "paid" if status is PayoutStatus.done else "sending"
        out[bucket][currency] = out[bucket].get(currency, 0) + amount
    out["owed"] = {c: v for c, v in ledger_repo.worker_payable_totals(session, worker_id).items() if v}
    return out


def sent_to_workers(session: Session, job_id: int) -> int:
    """What of a job's worker payouts has been confirmed sent (the ledger counts a payout when it is
    scheduled)."""
    totals = repo.worker_payout_totals(session, job_id=job_id)
    return sum(amount for (status, _), amount in totals.items() if status is PayoutStatus.done)


__all__ = [
    "PayoutSchedule",
    "lock_for_cancel",
    "chain_payout_id",
    "make_payable",
    "schedule_worker_payouts",
    "settle",
    "tick",
]
