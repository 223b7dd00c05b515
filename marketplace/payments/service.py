"""Funding a job on either rail, and applying what the rails tell us (Stripe webhooks, chain logs).

Card: :func:`start_funding` creates a PaymentIntent charged at once (``capture_method=automatic``;
an authorisation would lapse after ~7 days, jobs can run longer). The job activates when the signed
``payment_intent.succeeded`` webhook is applied.

Chain: :func:`start_funding` returns what the requester's wallet needs (vault, token, amount, the
salted bytes32 job id). :func:`ingest_chain_logs` reads ``JobFunded`` logs up to ``head -
confirmations`` into the inbox (keyed by ``<tx hash>:<log index>``) and applies each once; the cursor
moves in the same transaction, so a restart neither misses nor repeats one, and blocks that could
still be re-organised are never read.

Applying a deposit (the funding flow, :mod:`marketplace.flows.funding`) writes the ledger (funding,
fee) and activates the job, once. Never commits.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from typing import Any

from eth_utils import to_checksum_address
from sqlalchemy.orm import Session

from marketplace.config import Settings
from marketplace.errors import (
    ChainTokenMissing,
    DevWalletUnavailable,
    InvalidInput,
    JobNotFundable,
    PayoutScheduleFixed,
    WrongRail,
)
from marketplace.escrow.chain import ChainEvent, FundResult, as_bytes32
from marketplace.jobs import economics
from marketplace.jobs.states import transition
from marketplace.ledger import service as ledger
from marketplace.models import (
    FundingStatus,
    InboxEvent,
    InboxStatus,
    Job,
    JobFunding,
    JobStatus,
    PayoutSchedule,
    Rail,
    utcnow,
)
from marketplace.payments import repository as repo
from marketplace.payments import states
from marketplace.payments.rails import Rails
from workers.enqueue import enqueue

log = logging.getLogger(__name__)

FUNDABLE = (JobStatus.draft, JobStatus.awaiting_funds)


@dataclass(frozen=True)
class FundingInstructions:
    job_id: int
    rail: Rail
    amount: int
    currency: str
    payout_schedule: PayoutSchedule
    status: FundingStatus
    client_secret: str | None = None
    payment_intent_id: str | None = None
    vault_address: str | None = None
    token_address: str | None = None
    chain_job_id: str | None = None
    chain_id: int | None = None
    deadline: int | None = None


def _terms(job: Job, fee_bps: int) -> economics.JobBudget:
    return economics.budget(job.bounty_amount, fee_bps, *job.work_units, job.overlap_cap)


def start_funding(
    session: Session,
    job: Job,
    rails: Rails,
    *,
    fee_bps: int,
    schedule: PayoutSchedule | None = None,
) -> FundingInstructions:
    """Begin (or resume) funding ``job``; idempotent per job."""
    ps = rails.settings
    funding = repo.funding_for_job(session, job.id)
    if funding is None:
        if job.status not in FUNDABLE:
            raise JobNotFundable(f"job {job.id} is {job.status.value}; only a draft job can be funded")
        plan = _terms(job, fee_bps)
        if plan.pay_per_assignment < 1:
            raise InvalidInput(f"the bounty of job {job.id} cannot pay its assignments after the fee")
        funding = JobFunding(
            job_id=job.id,
            rail=job.rail,
            currency=job.currency,
            amount=job.bounty_amount,
            fee_amount=plan.fee,
            pay_per_assignment=plan.pay_per_assignment,
            payable_assignments=plan.payable_assignments,
            payout_schedule=schedule or PayoutSchedule(ps.default_payout_schedule),
        )
        repo.add(session, funding)
        if job.status is JobStatus.draft:
            transition(job, JobStatus.awaiting_funds)
    elif schedule is not None and schedule is not funding.payout_schedule:
        if funding.status is FundingStatus.succeeded:
            raise PayoutScheduleFixed("the payout schedule is fixed once the job is funded")
        funding.payout_schedule = schedule
    if funding.rail is Rail.card:
        return _card_instructions(session, job, funding, rails)
    return _chain_instructions(job, funding, rails)


def _card_instructions(session: Session, job: Job, funding: JobFunding, rails: Rails) -> FundingInstructions:
    card = rails.need_card()
    ns = rails.settings.payout_namespace
    if funding.stripe_payment_intent_id:
        pi = card.retrieve_payment_intent(funding.stripe_payment_intent_id)
    else:
        pi = card.create_payment_intent(
            amount=funding.amount,
            currency=funding.currency,
            idempotency_key=f"{ns}:fund:{funding.id}",
            metadata={"tilework_job_id": str(job.id), "tilework_funding_id": str(funding.id), "ns": ns},
        )
        funding.stripe_payment_intent_id = pi.id
    return FundingInstructions(
        job_id=job.id,
        rail=Rail.card,
        amount=funding.amount,
        currency=funding.currency,
        payout_schedule=funding.payout_schedule,
        status=funding.status,
        client_secret=pi.client_secret,
        payment_intent_id=pi.id,
    )


def _chain_instructions(job: Job, funding: JobFunding, rails: Rails) -> FundingInstructions:
    escrow = rails.need_chain()
    ps = rails.settings
    if funding.chain_job_id is None:
        salt = secrets.token_hex(8)
        funding.chain_job_id = "0x" + as_bytes32(f"{ps.payout_namespace}:job:{job.id}:{salt}").hex()
        token = (
            job.currency if job.currency.startswith("0x") and len(job.currency) == 42 else rails.chain_token
        )
        if not token:
            raise ChainTokenMissing(
                "no ERC-20 token is configured for the chain rail (TILEWORK_CHAIN_TOKEN_ADDRESS)"
            )
        funding.chain_token = to_checksum_address(token)
    return FundingInstructions(
        job_id=job.id,
        rail=Rail.chain,
        amount=funding.amount,
        currency=funding.currency,
        payout_schedule=funding.payout_schedule,
        status=funding.status,
        vault_address=escrow.address,
        token_address=funding.chain_token,
        chain_job_id=funding.chain_job_id,
        chain_id=ps.chain_id or int(escrow.w3.eth.chain_id),
        deadline=int(escrow.w3.eth.get_block("latest")["timestamp"]) + ps.chain_job_deadline_s,
    )


# --------------------------------------------------------------------------- applying a funding


def record_deposit(session: Session, funding: JobFunding, amount: int, *, source: str) -> Job | None:
    """Money arrived for ``funding`` (verified webhook or confirmed chain log): mark it and write it to
    the ledger. Returns the job, locked; None when this funding had been applied already."""
    if funding.status is FundingStatus.succeeded:
        return None
    job = session.get(Job, funding.job_id, with_for_update=True)
    assert job is not None
    states.FUNDING.move(funding, FundingStatus.succeeded)
    funding.funded_amount = amount
    funding.funded_at = utcnow()
    ledger.record_funding(
        session,
        job_id=job.id,
        requester_id=job.requester_id,
        currency=funding.currency,
        amount=amount,
        idem_key=f"funding:{funding.id}",
        memo=source,
    )
    return job


def take_fee(session: Session, funding: JobFunding) -> None:
    """The platform's fee, frozen at funding, moves out of the job's escrow (once)."""
    if funding.fee_amount:
        ledger.record_fee(
            session,
            job_id=funding.job_id,
            currency=funding.currency,
            amount=funding.fee_amount,
            idem_key=f"fee:{funding.id}",
        )


@dataclass(frozen=True)
class Deposit:
    funding: JobFunding
    amount: int
    source: str


# --------------------------------------------------------------------------- Stripe webhooks


def store_stripe_event(session: Session, event: dict[str, Any]) -> int | None:
    """Put a verified event in the inbox; None when its id was seen before (a replay)."""
    if not isinstance(event.get("id"), str) or not isinstance(event.get("type"), str):
        raise InvalidInput("not a Stripe event")
    return repo.insert_inbox(
        session, source="stripe", external_id=event["id"], type_=event["type"], payload=event
    )


def enqueue_inbox(session: Session, inbox_id: int) -> None:
    enqueue(session, "payments.process_inbox_event", inbox_id)


def lock_inbox(session: Session, inbox_id: int) -> InboxEvent | None:
    return repo.lock_inbox(session, inbox_id)


def pending_inbox_ids(session: Session, source: str) -> list[int]:
    return list(repo.pending_inbox_ids(session, source))


def close_inbox(row: InboxEvent, note: str) -> str:
    """Mark an inbox event handled: ``applied``, or ``ignored`` with the reason."""
    states.INBOX.move(row, InboxStatus.applied if note == "applied" else InboxStatus.ignored)
    row.note = note[:500]
    row.processed_at = utcnow()
    return row.status.value


def match_deposit(session: Session, row: InboxEvent) -> Deposit | str:
    """The deposit an inbox event reports (its funding locked), or why it is ignored."""
    return _stripe_deposit(session, row) if row.source == "stripe" else _chain_deposit(session, row)


def _stripe_deposit(session: Session, row: InboxEvent) -> Deposit | str:
    if row.type != "payment_intent.succeeded":
        return f"ignored: {row.type}"
    obj = (row.payload.get("data") or {}).get("object") or {}
    pi_id = obj.get("id")
    if not isinstance(pi_id, str):
        return "ignored: no payment intent"
    funding = repo.funding_by_intent(session, pi_id, lock=True)
    if funding is None:
        return f"ignored: unknown payment intent {pi_id}"
    received = obj.get("amount_received") or obj.get("amount")
    if str(obj.get("currency", "")).lower() != funding.currency.lower() or not isinstance(received, int):
        return "ignored: currency or amount does not match the job"
    return Deposit(funding, int(received), f"stripe {pi_id}")


# --------------------------------------------------------------------------- chain logs

CURSOR = "vault-funded"


def ingest_chain_logs(session: Session, rails: Rails, *, max_blocks: int = 5_000) -> None:
    """Store the vault's confirmed ``JobFunded`` logs in the inbox and move the cursor (one step)."""
    escrow = rails.need_chain()
    head = int(escrow.w3.eth.block_number)
    safe = head - rails.chain_confirmations
    cursor = repo.lock_cursor(session, CURSOR, rails.settings.chain_start_block)
    if safe <= cursor.block:
        return
    start, end = cursor.block + 1, min(safe, cursor.block + max_blocks)
    for event in escrow.iter_funded_events(start, end):
        repo.insert_inbox(
            session,
            source="chain",
            external_id=event.key,
            type_=event.name,
            payload=_event_payload(event),
            block_number=event.block_number,
        )
    cursor.block = end


def _event_payload(event: ChainEvent) -> dict[str, Any]:
    args = {
        k: ("0x" + v.hex() if isinstance(v, bytes | bytearray) else (str(v) if isinstance(v, int) else v))
        for k, v in event.args.items()
    }
    return {"args": args, "tx_hash": event.tx_hash, "log_index": event.log_index, "block": event.block_number}


def _chain_deposit(session: Session, row: InboxEvent) -> Deposit | str:
    args = row.payload.get("args") or {}
    job_key = str(args.get("jobId", "")).lower()
    funding = repo.funding_by_chain_id(session, job_key, lock=True)
    if funding is None:
        return "ignored: not one of our jobs"
    if (funding.chain_token or "").lower() != str(args.get("token", "")).lower():
        return f"ignored: funded with token {args.get('token')}, job expects {funding.chain_token}"
    return Deposit(funding, int(args["amount"]), row.external_id)


def fund_from_dev_wallet(
    session: Session, job: Job, rails: Rails, fee_bps: int, settings: Settings
) -> FundResult:
    """Pay a chain job's bounty from the embedded development chain's wallet (mint test tokens when it
    runs low, approve, fund the vault). Refused in production and on every real chain."""
    wallet = rails.dev_wallet
    if settings.environment == "production" or wallet is None:
        raise DevWalletUnavailable(
            "the dev wallet exists only on the embedded development chain (no TILEWORK_CHAIN_RPC_URL, "
            "not in production); fund the job from your own wallet"
        )
    if job.rail is not Rail.chain:
        raise WrongRail(f"job {job.id} is funded on the {job.rail.value} rail, not on chain")
    out = start_funding(session, job, rails, fee_bps=fee_bps)
    assert out.chain_job_id and out.token_address and out.deadline
    escrow = rails.need_chain()
    token = escrow.token(out.token_address)
    if int(token.functions.balanceOf(wallet.address).call()) < out.amount:
        escrow.mint_test_tokens(wallet, out.token_address, out.amount)
    return escrow.fund_job(wallet, out.chain_job_id, out.token_address, out.amount, out.deadline)
