"""The money rails' part of the settings.

:class:`marketplace.config.Settings` inherits these fields, so there is one settings object; this
class stays separate only so the payment settings can be built on their own in tests. Every field
reads ``TILEWORK_<NAME>`` from the environment. With nothing set: the card rail is off (no Stripe
key), the chain rail is the embedded in-process EVM, payouts run in-process.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class PaymentSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TILEWORK_", extra="ignore")

    # -- card rail (Stripe) ---------------------------------------------------------------------------
    stripe_secret_key: str | None = None
    stripe_webhook_secret: str | None = None
    #: The publishable key (``pk_...``) the job page hands to Stripe.js for the Payment Element.
    stripe_publishable_key: str | None = None
    #: Point the Stripe SDK elsewhere, e.g. localstripe at http://127.0.0.1:8420. A base on
    #: 127.0.0.1/localhost/::1 is a local emulator: the job page then offers a clearly marked test-card
    #: path instead of the Payment Element (never against real Stripe).
    stripe_api_base: str | None = None
    #: ``stripe``: real Connect accounts and transfers; ``standin``: the local stand-in (localstripe
    #: has no Connect). The stand-in keeps its state in ``stripe_standin_path``.
    stripe_connect: Literal["stripe", "standin"] = "standin"
    stripe_standin_path: Path | None = None
    #: Webhook timestamps older than this are refused (replay window), seconds.
    stripe_webhook_tolerance_s: int = 300

    # -- chain rail -----------------------------------------------------------------------------------
    #: JSON-RPC URL of the node; unset means the embedded in-process EVM.
    chain_rpc_url: str | None = None
    chain_escrow_address: str | None = None
    chain_token_address: str | None = None
    chain_operator_key: str | None = Field(default=None, repr=False)
    #: Where the platform fee goes on the chain rail (default: the operator's address).
    chain_treasury_address: str | None = None
    #: Blocks a ``Funded`` event must be buried under before it activates a job.
    chain_confirmations: int = 2
    chain_start_block: int = 0
    chain_id: int | None = None
    #: Seconds a requester has (from funding instructions) before the vault lets them reclaim alone.
    chain_job_deadline_s: int = 90 * 24 * 3600

    # -- payouts ----------------------------------------------------------------------------------------
    payout_batch_size: int = Field(default=500, ge=1, le=2000)
    #: How often ``on_acceptance`` jobs are paid, seconds.
    payout_interval_s: int = 300
    payout_drain_interval_s: int = 15
    payout_max_attempts: int = 12
    payout_backoff_base_s: float = 5.0
    payout_backoff_max_s: float = 900.0
    #: Prefix of every external idempotency key and chain id: keep it unique per deployment sharing a
    #: Stripe account or a vault.
    payout_namespace: str = "tilework"
    default_payout_schedule: Literal["on_completion", "on_acceptance"] = "on_completion"

    # -- wallet linking (SIWE) ---------------------------------------------------------------------------
    siwe_domain: str = "127.0.0.1:8000"
    siwe_uri: str = "http://127.0.0.1:8000"
    siwe_nonce_ttl_s: int = 600

    @model_validator(mode="after")
    def _refuse_live_key_with_standin(self) -> PaymentSettings:
        if self.stripe_live and self.stripe_connect == "standin":
            raise ValueError(
                "TILEWORK_STRIPE_SECRET_KEY is a live Stripe key but TILEWORK_STRIPE_CONNECT is the local "
                "stand-in: workers' payouts would be marked paid while no money moves. Set "
                "TILEWORK_STRIPE_CONNECT=stripe"
            )
        return self

    @property
    def stripe_live(self) -> bool:
        """A live-mode secret or restricted key: real money."""
        return (self.stripe_secret_key or "").startswith(("sk_live_", "rk_live_"))

    @property
    def card_enabled(self) -> bool:
        return bool(self.stripe_secret_key)

    @property
    def stripe_emulated(self) -> bool:
        """The card rail talks to a local Stripe emulator (localstripe), not to Stripe."""
        return is_local_stripe_base(self.stripe_api_base)

    @property
    def card_mode(self) -> Literal["off", "emulator", "stripe", "no_publishable_key"]:
        """How the job page takes a card: ``emulator`` (test-card path), ``stripe`` (Payment Element),
        ``no_publishable_key`` (real Stripe but no key for Stripe.js) or ``off`` (no card rail)."""
        if not self.card_enabled:
            return "off"
        if self.stripe_emulated:
            return "emulator"
        return "stripe" if self.stripe_publishable_key else "no_publishable_key"


LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def is_local_stripe_base(api_base: str | None) -> bool:
    """True only for an http(s) URL on a loopback host; unset (real Stripe) or anything else is False."""
    if not api_base:
        return False
    try:
        parts = urlsplit(api_base.strip())
        host = parts.hostname
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and host is not None and host.lower() in LOCAL_HOSTS
