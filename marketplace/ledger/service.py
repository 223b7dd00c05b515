"""The double-entry ledger: every money movement of a job as balanced, append-only lines.

Sign convention: a line's amount is positive for a debit and negative for a credit; the lines of one
transaction sum to zero. The movements (F funding, f fee, e earning, p payout, r refund)::

    funding   job_escrow +F   requester      -F
    fee       platform   +f   job_escrow     -f
    earning   worker_payable(w) +e   job_escrow -e
    payout    worker_paid(w)    +p   worker_payable(w) -p
    compensation worker_payable(w) +c  platform -c      (an overturn paid from the fee)
    refund    requester  +r   job_escrow     -r

so per job ``funded = fees + paid + refunded + held`` with ``held = job_escrow + worker_payable``
(money still in escrow: unearned, or earned and not yet sent). Neither ``job_escrow`` nor any
``worker_payable`` may go negative; the service refuses such a movement. Every movement carries an
idempotency key: posting the same key twice returns the first transaction and writes nothing.

Never commits.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from marketplace.errors import Conflict
from marketplace.ledger import repository
from marketplace.models import AccountType, EntryKind, LedgerEntry, LedgerTransaction

A = AccountType


@dataclass(frozen=True)
class Line:
    account: AccountType
    amount: int
    owner_id: int | None = None


class LedgerError(Conflict):
    code = "ledger_conflict"


def _check_int(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"money must be an int, got {type(value).__name__}")
    return value


def post(
    session: Session,
    *,
    idem_key: str,
    kind: EntryKind,
    job_id: int,
    currency: str,
    lines: list[Line],
    memo: str = "",
) -> tuple[LedgerTransaction, bool]:
    """Write one balanced transaction; returns ``(transaction, created)``."""
    existing = repository.find_transaction(session, idem_key)
    if existing is not None:
        return existing, False
    if len(lines) < 2:
        raise ValueError("a transaction needs at least two lines")
    for line in lines:
        _check_int(line.amount)
    if sum(line.amount for line in lines) != 0:
        raise ValueError("unbalanced transaction: lines must sum to zero")
    size = sum(line.amount for line in lines if line.amount > 0)
    if size <= 0:
        raise ValueError("a transaction must move a positive amount")
    txn = LedgerTransaction(
        idem_key=idem_key, kind=kind, job_id=job_id, currency=currency, amount=size, memo=memo[:500]
    )
    entries = [
        LedgerEntry(
            job_id=job_id,
            account_type=line.account,
            owner_id=line.owner_id,
            currency=currency,
            amount=line.amount,
        )
        for line in lines
        if line.amount != 0
    ]
    repository.add_transaction(session, txn, entries)
    return txn, True


def lock_job(session: Session, job_id: int) -> None:
    """Take the job's money lock (row lock on its funding record) before reading balances to move."""
    repository.lock_job_money(session, job_id)


def _positive(amount: int) -> int:
    _check_int(amount)
    if amount <= 0:
        raise ValueError("amount must be positive")
    return amount


def _escrow_covers(session: Session, job_id: int, amount: int, what: str) -> None:
    held = repository.balance(session, job_id, A.job_escrow)
    if held < amount:
        raise LedgerError(f"job {job_id} holds {held} unearned; cannot {what} {amount}")


def record_funding(
    session: Session,
    *,
    job_id: int,
    requester_id: int,
    currency: str,
    amount: int,
    idem_key: str,
    memo: str = "",
) -> tuple[LedgerTransaction, bool]:
    amount = _positive(amount)
    return post(
        session,
        idem_key=idem_key,
        kind=EntryKind.funding,
        job_id=job_id,
        currency=currency,
        memo=memo,
        lines=[Line(A.job_escrow, amount), Line(A.requester, -amount, requester_id)],
    )


def record_fee(
    session: Session, *, job_id: int, currency: str, amount: int, idem_key: str
) -> tuple[LedgerTransaction, bool]:
    amount = _positive(amount)
    if (found := repository.find_transaction(session, idem_key)) is not None:
        return found, False
    _escrow_covers(session, job_id, amount, "take a fee of")
    return post(
        session,
        idem_key=idem_key,
        kind=EntryKind.fee,
        job_id=job_id,
        currency=currency,
        lines=[Line(A.platform, amount), Line(A.job_escrow, -amount)],
    )


def record_earning(
    session: Session,
    *,
    job_id: int,
    worker_id: int,
    currency: str,
    amount: int,
    idem_key: str,
    memo: str = "",
) -> tuple[LedgerTransaction, bool]:
    """Accepted work earns its worker money out of the job's escrow."""
    return _credit_worker(
        session, A.job_escrow, EntryKind.earning, job_id, worker_id, currency, amount, idem_key, memo
    )


def record_compensation(
    session: Session,
    *,
    job_id: int,
    worker_id: int,
    currency: str,
    amount: int,
    idem_key: str,
    memo: str = "",
) -> tuple[LedgerTransaction, bool]:
    """Work the platform pays for out of its fee on the job (an overturned rejection whose chunk others
    finished): the job's escrow is untouched."""
    return _credit_worker(
        session, A.platform, EntryKind.compensation, job_id, worker_id, currency, amount, idem_key, memo
    )


def _credit_worker(
    session: Session,
    source: AccountType,
    kind: EntryKind,
    job_id: int,
    worker_id: int,
    currency: str,
    amount: int,
    idem_key: str,
    memo: str,
) -> tuple[LedgerTransaction, bool]:
    amount = _positive(amount)
    if (found := repository.find_transaction(session, idem_key)) is not None:
        return found, False
    held = repository.balance(session, job_id, source)
    if held < amount:
        raise LedgerError(f"job {job_id}'s {source.value} holds {held}; cannot pay {amount} out of it")
    return post(
        session,
        idem_key=idem_key,
        kind=kind,
        job_id=job_id,
        currency=currency,
        memo=memo,
        lines=[Line(A.worker_payable, amount, worker_id), Line(source, -amount)],
    )


def record_payout(
    session: Session, *, job_id: int, worker_id: int, currency: str, amount: int, idem_key: str
) -> tuple[LedgerTransaction, bool]:
    amount = _positive(amount)
    if (found := repository.find_transaction(session, idem_key)) is not None:
        return found, False
    payable = repository.balance(session, job_id, A.worker_payable, worker_id)
    if payable < amount:
        raise LedgerError(f"worker {worker_id} is owed {payable} on job {job_id}; cannot pay out {amount}")
    return post(
        session,
        idem_key=idem_key,
        kind=EntryKind.payout,
        job_id=job_id,
        currency=currency,
        lines=[Line(A.worker_paid, amount, worker_id), Line(A.worker_payable, -amount, worker_id)],
    )


def record_refund(
    session: Session, *, job_id: int, requester_id: int, currency: str, amount: int, idem_key: str
) -> tuple[LedgerTransaction, bool]:
    amount = _positive(amount)
    if (found := repository.find_transaction(session, idem_key)) is not None:
        return found, False
    _escrow_covers(session, job_id, amount, "refund")
    return post(
        session,
        idem_key=idem_key,
        kind=EntryKind.refund,
        job_id=job_id,
        currency=currency,
        lines=[Line(A.requester, amount, requester_id), Line(A.job_escrow, -amount)],
    )


# --------------------------------------------------------------------------- reads


@dataclass(frozen=True)
class JobBooks:
    funded: int
    fees: int
    paid: int
    refunded: int
    unearned: int
    payable: int

    @property
    def held(self) -> int:
        return self.unearned + self.payable

    @property
    def balanced(self) -> bool:
        return self.funded == self.fees + self.paid + self.refunded + self.held


def job_books(session: Session, job_id: int) -> JobBooks:
    kinds = repository.kind_totals(session, job_id)
    return JobBooks(
        funded=kinds.get(EntryKind.funding, 0),
        fees=repository.balance(session, job_id, A.platform),
        paid=repository.balance(session, job_id, A.worker_paid),
        refunded=kinds.get(EntryKind.refund, 0),
        unearned=repository.balance(session, job_id, A.job_escrow),
        payable=repository.balance(session, job_id, A.worker_payable),
    )


def fee_balance(session: Session, job_id: int) -> int:
    """The platform's fee on the job, less what it paid for overturned work."""
    return repository.balance(session, job_id, A.platform)


def unearned(session: Session, job_id: int) -> int:
    return repository.balance(session, job_id, A.job_escrow)


def payable_by_worker(session: Session, job_id: int) -> dict[int, int]:
    return {w: b for w, b in repository.balances_by_owner(session, job_id, A.worker_payable).items() if b > 0}


def paid_by_worker(session: Session, job_id: int | None = None) -> dict[int, int]:
    return {w: b for w, b in repository.balances_by_owner(session, job_id, A.worker_paid).items() if b}


def earning_exists(session: Session, idem_key: str) -> bool:
    return repository.find_transaction(session, idem_key) is not None


def check_balanced(session: Session, job_id: int) -> JobBooks:
    books = job_books(session, job_id)
    if repository.entries_sum(session, job_id) != 0 or not books.balanced:
        raise LedgerError(f"job {job_id}'s books do not balance: {books}")
    return books
