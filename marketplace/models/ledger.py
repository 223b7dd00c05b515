"""The append-only double-entry ledger.

A :class:`LedgerTransaction` is one money movement (funding, fee, earning, payout, refund); its
:class:`LedgerEntry` lines carry signed integer amounts (debit positive, credit negative) that sum to
zero. Rows are only ever inserted: balances are sums over entries, never stored counters. Every
transaction has a unique ``idem_key`` so writing the same movement twice is a no-op.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Enum, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.models.base import Amount, Base, UTCDateTime, utcnow


class EntryKind(StrEnum):
    funding = "funding"
    fee = "fee"
    earning = "earning"
    payout = "payout"
    refund = "refund"
    compensation = "compensation"  # an overturned rejection paid out of the platform's fee


class AccountType(StrEnum):
    """The chart of accounts. ``owner_id`` is a user id (requester, worker), null otherwise.

    - ``requester``: the outside source of a job's money (goes negative on funding, up on refund).
    - ``job_escrow``: money held for the job and not yet earned by anyone.
    - ``worker_payable``: earned by a worker for accepted work, not yet sent.
    - ``worker_paid``: sent to the worker's payout destination.
    - ``platform``: the platform's fee.
    """

    requester = "requester"
    job_escrow = "job_escrow"
    worker_payable = "worker_payable"
    worker_paid = "worker_paid"
    platform = "platform"


class LedgerTransaction(Base):
    __tablename__ = "ledger_transactions"

    id: Mapped[int] = mapped_column(primary_key=True)
    idem_key: Mapped[str] = mapped_column(String(200), unique=True, nullable=False)
    kind: Mapped[EntryKind] = mapped_column(Enum(EntryKind, native_enum=False, length=20), nullable=False)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id"), nullable=False)
    currency: Mapped[str] = mapped_column(String(64), nullable=False)
    #: The positive size of the movement (the sum of its debit lines).
    amount: Mapped[int] = mapped_column(Amount(), nullable=False)
    memo: Mapped[str] = mapped_column(String(500), nullable=False, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)

    __table_args__ = (Index("ix_ledger_transactions_job_kind", "job_id", "kind"),)


class LedgerEntry(Base):
    __tablename__ = "ledger_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    transaction_id: Mapped[int] = mapped_column(ForeignKey("ledger_transactions.id"), nullable=False)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id"), nullable=False)
    account_type: Mapped[AccountType] = mapped_column(
        Enum(AccountType, native_enum=False, length=20), nullable=False
    )
    owner_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    currency: Mapped[str] = mapped_column(String(64), nullable=False)
    #: Signed: debit positive, credit negative.
    amount: Mapped[int] = mapped_column(Amount(), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)

    __table_args__ = (
        Index("ix_ledger_entries_job_account", "job_id", "account_type", "owner_id"),
        Index("ix_ledger_entries_account_owner", "account_type", "owner_id"),
        Index("ix_ledger_entries_transaction_id", "transaction_id"),
    )
