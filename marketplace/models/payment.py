"""Payment records: a job's funding, the webhook/chain-event inbox, payouts and their outbox, SIWE nonces."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Enum, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.models.base import Amount, Base, UTCDateTime, utcnow
from marketplace.models.enums import Rail


class PayoutSchedule(StrEnum):
    #: Pay everyone once the whole dataset is accepted (the seed platform's rule). The default.
    on_completion = "on_completion"
    #: Pay accepted work in batches every few minutes.
    on_acceptance = "on_acceptance"


class FundingStatus(StrEnum):
    pending = "pending"
    succeeded = "succeeded"
    failed = "failed"


class JobFunding(Base):
    """A job's payment terms and how its money came in. One per job.

    ``fee_amount`` and ``pay_per_assignment`` are frozen here when funding starts, so a later change of
    the platform fee never changes what an accepted assignment of this job earns.
    """

    __tablename__ = "job_fundings"

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id"), unique=True, nullable=False)
    rail: Mapped[Rail] = mapped_column(Enum(Rail, native_enum=False, length=10), nullable=False)
    currency: Mapped[str] = mapped_column(String(64), nullable=False)
    amount: Mapped[int] = mapped_column(Amount(), nullable=False)
    fee_amount: Mapped[int] = mapped_column(Amount(), nullable=False)
    pay_per_assignment: Mapped[int] = mapped_column(Amount(), nullable=False)
    payable_assignments: Mapped[int] = mapped_column(Integer, nullable=False)
    payout_schedule: Mapped[PayoutSchedule] = mapped_column(
        Enum(PayoutSchedule, native_enum=False, length=20),
        nullable=False,
        default=PayoutSchedule.on_completion,
    )
    status: Mapped[FundingStatus] = mapped_column(
        Enum(FundingStatus, native_enum=False, length=20), nullable=False, default=FundingStatus.pending
    )
    stripe_payment_intent_id: Mapped[str | None] = mapped_column(String(255), unique=True, nullable=True)
    #: 0x-hex bytes32 job id on the vault (salted, so nobody can pre-fund it with another token).
    chain_job_id: Mapped[str | None] = mapped_column(String(66), unique=True, nullable=True)
    chain_token: Mapped[str | None] = mapped_column(String(42), nullable=True)
    funded_amount: Mapped[int | None] = mapped_column(Amount(), nullable=True)
    funded_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)


class InboxStatus(StrEnum):
    pending = "pending"
    applied = "applied"
    ignored = "ignored"


class InboxEvent(Base):
    """An incoming external event (Stripe webhook, chain log), stored before any work is done.

    Keyed by ``(source, external_id)``: the Stripe event id, or ``<tx hash>:<log index>`` for chain logs,
    so a replayed delivery finds its row and changes nothing.
    """

    __tablename__ = "payment_inbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(20), nullable=False)
    external_id: Mapped[str] = mapped_column(String(200), nullable=False)
    type: Mapped[str] = mapped_column(String(100), nullable=False)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    block_number: Mapped[int | None] = mapped_column(Integer, nullable=True)
    status: Mapped[InboxStatus] = mapped_column(
        Enum(InboxStatus, native_enum=False, length=20), nullable=False, default=InboxStatus.pending
    )
    note: Mapped[str] = mapped_column(String(500), nullable=False, default="")
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    __table_args__ = (
        UniqueConstraint("source", "external_id", name="uq_payment_inbox_source_external_id"),
        Index("ix_payment_inbox_status", "status"),
    )


class ChainCursor(Base):
    """How far a chain scanner has read (the last confirmed block it has fully ingested)."""

    __tablename__ = "chain_cursors"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    block: Mapped[int] = mapped_column(Integer, nullable=False)


class PayoutKind(StrEnum):
    #: Pay workers (one chain batch of at most ``payout_batch_size`` recipients, or card transfers).
    workers = "workers"
    #: Move the platform fee to the treasury (chain only; on the card rail the fee never leaves).
    fee = "fee"
    #: Give the unspent remainder back to the requester and close the job on the rail.
    refund = "refund"


class PayoutStatus(StrEnum):
    pending = "pending"
    done = "done"
    failed = "failed"


class Payout(Base):
    """One batch of money leaving escrow. Its ledger entries are written with it, in one transaction."""

    __tablename__ = "payouts"

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id"), nullable=False)
    rail: Mapped[Rail] = mapped_column(Enum(Rail, native_enum=False, length=10), nullable=False)
    kind: Mapped[PayoutKind] = mapped_column(Enum(PayoutKind, native_enum=False, length=20), nullable=False)
    status: Mapped[PayoutStatus] = mapped_column(
        Enum(PayoutStatus, native_enum=False, length=20), nullable=False, default=PayoutStatus.pending
    )
    currency: Mapped[str] = mapped_column(String(64), nullable=False)
    total: Mapped[int] = mapped_column(Amount(), nullable=False)
    #: For ``refund`` on the chain rail: ``complete`` or ``cancel``.
    close_action: Mapped[str | None] = mapped_column(String(20), nullable=True)
    #: The chain payout id (0x bytes32) or the Stripe refund id.
    external_ref: Mapped[str | None] = mapped_column(String(255), nullable=True)
    tx_hash: Mapped[str | None] = mapped_column(String(80), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    __table_args__ = (Index("ix_payouts_job_status", "job_id", "status"),)


class PayoutItem(Base):
    """One recipient of a payout batch (all of a worker's unpaid earnings of the job, grouped)."""

    __tablename__ = "payout_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    payout_id: Mapped[int] = mapped_column(ForeignKey("payouts.id"), nullable=False)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    destination: Mapped[str] = mapped_column(String(255), nullable=False)
    amount: Mapped[int] = mapped_column(Amount(), nullable=False)
    #: Stripe transfer id once sent (card rail).
    external_ref: Mapped[str | None] = mapped_column(String(255), nullable=True)

    __table_args__ = (
        UniqueConstraint("payout_id", "user_id", name="uq_payout_items_payout_user"),
        Index("ix_payout_items_payout_id", "payout_id"),
        Index("ix_payout_items_user_id", "user_id"),
    )


class PayoutOutbox(Base):
    """Durable 'send this payout' message, drained by a periodic task with ``FOR UPDATE SKIP LOCKED``."""

    __tablename__ = "payout_outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    payout_id: Mapped[int] = mapped_column(ForeignKey("payouts.id"), unique=True, nullable=False)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id"), nullable=False)
    available_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)

    __table_args__ = (Index("ix_payout_outbox_due", "processed_at", "available_at"),)


class SiweNonce(Base):
    """A server nonce for one Sign-In with Ethereum message; usable once, by the user it was issued to."""

    __tablename__ = "siwe_nonces"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    nonce: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    address: Mapped[str] = mapped_column(String(42), nullable=False)
    message: Mapped[str] = mapped_column(Text, nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
