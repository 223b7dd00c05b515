from __future__ import annotations

from pydantic import BaseModel, Field

from marketplace.bounds import ApiInput
from marketplace.models import FundingStatus, PayoutSchedule, Rail


class FundIn(ApiInput):
    payout_schedule: PayoutSchedule | None = None


class FundOut(BaseModel):
    job_id: int
    rail: Rail
    amount: int
    currency: str
    status: FundingStatus
    payout_schedule: PayoutSchedule
    #: card: confirm this PaymentIntent in the browser (Stripe.js).
    client_secret: str | None = None
    payment_intent_id: str | None = None
    #: chain: approve ``amount`` of ``token_address`` to ``vault_address``, then
    #: ``fund(chain_job_id, token_address, amount, deadline, manifestHash)``.
    vault_address: str | None = None
    token_address: str | None = None
    chain_job_id: str | None = None
    chain_id: int | None = None
    deadline: int | None = None


class WalletNonceIn(ApiInput):
    address: str = Field(min_length=42, max_length=42)


class WalletNonceOut(BaseModel):
    message: str
    nonce: str


class WalletVerifyIn(ApiInput):
    message: str = Field(max_length=2000)
    signature: str = Field(max_length=200)


class DestinationOut(BaseModel):
    rail: Rail
    destination: str
    verified: bool
    onboarding_url: str | None = None


class BooksOut(BaseModel):
    """A job's money. ``paid`` has reached the workers; ``sending`` is in payout batches not yet
    confirmed; ``funded = fees + paid + sending + refunded + held``."""

    job_id: int
    currency: str
    funded: int
    fees: int
    paid: int
    sending: int
    refunded: int
    held: int
    unearned: int
    payable: int


class EarningsOut(BaseModel):
    """Per currency: ``paid`` reached you, ``sending`` is on its way, ``owed`` waits for the next batch."""

    paid: dict[str, int]
    sending: dict[str, int]
    owed: dict[str, int]


class TestCardOut(BaseModel):
    """The test-card path (local Stripe emulator only): the PaymentIntent after confirming it. The job
    opens when the emulator's signed ``payment_intent.succeeded`` webhook arrives, not on this answer."""

    __test__ = False  # not a pytest class, despite the name

    job_id: int
    payment_intent_id: str
    status: str


class CurrencyOut(BaseModel):
    code: str = Field(description="what a job names as its currency (lower case)")
    symbol: str = Field(description="how amounts are shown: '$', 'tUSD', …")
    decimals: int = Field(description="amounts count units of 10**-decimals (cents, token base units)")
    rail: Rail
    enabled: bool = Field(description="whether this server takes money on that rail now")
    address: str | None = Field(default=None, description="the ERC-20 contract, for the chain rail")


class DevWalletOut(BaseModel):
    """The development wallet paid the bounty into the vault; the job opens once the funding is seen."""

    job_id: int
    wallet: str
    amount: str = Field(description="token base units, as a decimal string")
    approve_tx: str
    fund_tx: str
    status: str = Field(description="the job's status after the vault's log was read")
