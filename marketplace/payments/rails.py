"""The external money rails of this process: Stripe (card), Connect transfers, the chain vault.

Built once per process from :class:`PaymentSettings`; tests install their own with :func:`install`.
Without ``TILEWORK_CHAIN_RPC_URL`` the chain rail is the embedded in-process EVM (started lazily, with
the vault deployed), so the demo works with no configuration.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from marketplace.config import Settings, get_settings
from marketplace.escrow.chain import ChainEscrow, operator_from_key
from marketplace.payment_settings import PaymentSettings
from marketplace.payments.stripe_adapter import (
    CardPayments,
    ConnectTransfers,
    StandinConnectTransfers,
    StripeConnectTransfers,
)


class RailUnavailable(Exception):
    pass


@dataclass
class Rails:
    settings: PaymentSettings
    card: CardPayments | None = None
    connect: ConnectTransfers | None = None
    chain: ChainEscrow | None = None
    #: The ERC-20 a chain job is funded in (the embedded chain's TestToken by default).
    chain_token: str | None = None
    chain_confirmations: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def need_card(self) -> CardPayments:
        if self.card is None:
            raise RailUnavailable("the card rail is off: set TILEWORK_STRIPE_SECRET_KEY")
        return self.card

    def need_connect(self) -> ConnectTransfers:
        if self.connect is None:
            raise RailUnavailable("Stripe Connect is not configured")
        return self.connect

    def need_chain(self) -> ChainEscrow:
        if self.chain is None:
            raise RailUnavailable("the chain rail is not configured")
        return self.chain

    @property
    def dev_wallet(self) -> Any | None:
        """A funded account on the embedded development chain (the in-process EVM of the embedded
        default), for a newcomer to fund their own jobs; ``None`` on any real chain."""
        dev = self.extra.get("dev_chain")
        return dev.accounts[0] if dev is not None and dev.accounts else None

    @property
    def treasury(self) -> str:
        if self.settings.chain_treasury_address:
            return self.settings.chain_treasury_address
        return self.need_chain().operator.address


_lock = threading.Lock()
_rails: Rails | None = None


def build(psettings: PaymentSettings, settings: Settings) -> Rails:
    rails = Rails(settings=psettings)
    if psettings.stripe_secret_key:
        rails.card = CardPayments(psettings.stripe_secret_key, api_base=psettings.stripe_api_base)
    if psettings.stripe_connect == "stripe" and psettings.stripe_secret_key:
        rails.connect = StripeConnectTransfers(
            psettings.stripe_secret_key, api_base=psettings.stripe_api_base
        )
    else:
        rails.connect = StandinConnectTransfers(
            psettings.stripe_standin_path or settings.home / "stripe-connect-standin.sqlite3"
        )
    if psettings.chain_rpc_url:
        from web3 import HTTPProvider, Web3

        if not (psettings.chain_escrow_address and psettings.chain_operator_key):
            raise RailUnavailable("TILEWORK_CHAIN_ESCROW_ADDRESS and TILEWORK_CHAIN_OPERATOR_KEY are needed")
        w3 = Web3(HTTPProvider(psettings.chain_rpc_url, request_kwargs={"timeout": 60}))
        rails.chain = ChainEscrow(
            w3,
            psettings.chain_escrow_address,
            operator_from_key(psettings.chain_operator_key),
            batch_size=psettings.payout_batch_size,
        )
        rails.chain_token = psettings.chain_token_address
        rails.chain_confirmations = psettings.chain_confirmations
    else:
        from marketplace.escrow.evm import start_dev_chain

        dev = start_dev_chain()
        rails.chain = dev.escrow(batch_size=psettings.payout_batch_size)
        rails.chain_token = psettings.chain_token_address or dev.token_address
        rails.chain_confirmations = 0
        rails.extra["dev_chain"] = dev
    return rails


def get_rails() -> Rails:
    global _rails
    with _lock:
        if _rails is None:
            settings = get_settings()
            _rails = build(settings, settings)
        return _rails


def install(rails: Rails | None) -> None:
    """Use these rails in this process (tests); ``None`` goes back to building from the environment."""
    global _rails
    with _lock:
        _rails = rails


@dataclass(frozen=True)
class Money:
    """A currency a rail takes: its code (what jobs name), how it is shown, its decimals."""

    code: str
    symbol: str
    decimals: int
    rail: str
    enabled: bool
    address: str | None = None


_token_info: dict[tuple[int, str], tuple[str, int]] = {}


def currencies(rails: Rails) -> list[Money]:
    """The card rail's dollars and the chain rail's ERC-20 (its ``symbol()`` and ``decimals()``, read
    once per token), so amounts in base units are shown in whole units everywhere."""
    out = [Money("usd", "$", 2, "card", rails.card is not None)]
    if rails.chain is not None and rails.chain_token:
        key = (id(rails.chain), rails.chain_token)
        if key not in _token_info:
            token = rails.chain.token(rails.chain_token)
            _token_info[key] = (str(token.functions.symbol().call()), int(token.functions.decimals().call()))
        symbol, decimals = _token_info[key]
        out.append(Money(symbol.lower(), symbol, decimals, "chain", True, rails.chain_token))
    return out
