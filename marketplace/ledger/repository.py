"""SQL of the ledger. Sums are done by the database on PostgreSQL and in Python on SQLite (where
amounts are zero-padded strings; see :class:`marketplace.models.base.Amount`)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from marketplace.models import AccountType, EntryKind, JobFunding, LedgerEntry, LedgerTransaction


def _pg(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def lock_job_money(session: Session, job_id: int) -> None:
    """Serialise every ledger write of one job (its funding row is the lock)."""
    session.execute(select(JobFunding.id).where(JobFunding.job_id == job_id).with_for_update())


def find_transaction(session: Session, idem_key: str) -> LedgerTransaction | None:
    return session.scalars(select(LedgerTransaction).where(LedgerTransaction.idem_key == idem_key)).first()


def add_transaction(session: Session, txn: LedgerTransaction, entries: Sequence[LedgerEntry]) -> None:
    session.add(txn)
    session.flush()
    for entry in entries:
        entry.transaction_id = txn.id
    session.add_all(entries)
    session.flush()


def balance(
    session: Session, job_id: int | None, account_type: AccountType, owner_id: int | None = None
) -> int:
    conds = [LedgerEntry.account_type == account_type]
    if job_id is not None:
        conds.append(LedgerEntry.job_id == job_id)
    if owner_id is not None:
        conds.append(LedgerEntry.owner_id == owner_id)
    if _pg(session):
        total = session.scalar(select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(*conds))
        return int(total or 0)
    return sum(session.scalars(select(LedgerEntry.amount).where(*conds)))


def balances_by_owner(session: Session, job_id: int | None, account_type: AccountType) -> dict[int, int]:
    conds = [LedgerEntry.account_type == account_type]
    if job_id is not None:
        conds.append(LedgerEntry.job_id == job_id)
    out: dict[int, int] = defaultdict(int)
    if _pg(session):
        rows = session.execute(
            select(LedgerEntry.owner_id, func.sum(LedgerEntry.amount))
            .where(*conds)
            .group_by(LedgerEntry.owner_id)
        )
        for owner, total in rows:
            out[int(owner or 0)] += int(total or 0)
    else:
        for owner, amount in session.execute(select(LedgerEntry.owner_id, LedgerEntry.amount).where(*conds)):
            out[int(owner or 0)] += int(amount)
    return dict(out)


def kind_totals(session: Session, job_id: int) -> dict[EntryKind, int]:
    out: dict[EntryKind, int] = defaultdict(int)
    where = LedgerTransaction.job_id == job_id
    if _pg(session):
        rows = session.execute(
            select(LedgerTransaction.kind, func.sum(LedgerTransaction.amount))
            .where(where)
            .group_by(LedgerTransaction.kind)
        )
    else:
        rows = session.execute(select(LedgerTransaction.kind, LedgerTransaction.amount).where(where))
    for kind, amount in rows:
        out[EntryKind(kind)] += int(amount)
    return dict(out)


def entries_sum(session: Session, job_id: int) -> int:
    """Sum of every line of a job: zero whenever the books balance."""
    if _pg(session):
        return int(
            session.scalar(
                select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(LedgerEntry.job_id == job_id)
            )
            or 0
        )
    return sum(session.scalars(select(LedgerEntry.amount).where(LedgerEntry.job_id == job_id)))


def transactions_for_job(session: Session, job_id: int) -> list[LedgerTransaction]:
    return list(
        session.scalars(
            select(LedgerTransaction).where(LedgerTransaction.job_id == job_id).order_by(LedgerTransaction.id)
        )
    )


def worker_payable_totals(session: Session, worker_id: int) -> dict[str, int]:
    """What a worker has earned and not yet been scheduled a payout for, per currency, over every job."""
    out: dict[str, int] = defaultdict(int)
    rows = session.execute(
        select(LedgerEntry.currency, LedgerEntry.amount).where(
            LedgerEntry.account_type == AccountType.worker_payable, LedgerEntry.owner_id == worker_id
        )
    )
    for currency, amount in rows:
        out[currency] += int(amount)
    return dict(out)
