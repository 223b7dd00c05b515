"""Our thin adapter over the Stripe Python SDK (card rail).

* :class:`CardPayments` — PaymentIntents and refunds, and webhook signature checks. Works against real
  Stripe and against localstripe (``TILEWORK_STRIPE_API_BASE``).
* :class:`ConnectTransfers` — connected accounts and transfers to workers. Two implementations:
  :class:`StripeConnectTransfers` (real Stripe Connect) and :class:`StandinConnectTransfers`, a small
  local stand-in (localstripe has no Connect) that keeps its state in a SQLite file of its own — so,
  like Stripe, what it did survives a crash of our process — and honours idempotency keys exactly as
  Stripe does: the same key returns the first transfer and moves no money again.

Charging: we charge at creation (``capture_method=automatic``). A card authorisation lapses after
about 7 days and a labelling job can run for weeks, so authorise-then-capture would leave the escrow
unsecured; unspent money is refunded instead, on cancel or completion.

Every call that moves money passes an idempotency key derived from our own row ids.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import stripe

#: Stripe's always-succeeding test card number (used only against a local emulator).
TEST_CARD = "4242424242424242"


class CardRailError(Exception):
    """A Stripe call failed (network, API error). Retried by the payout task."""


class WebhookSignatureInvalid(Exception):
    """The Stripe-Signature header is missing, wrong or too old."""


@dataclass(frozen=True)
class PaymentIntentInfo:
    id: str
    client_secret: str | None
    status: str
    amount: int
    currency: str
    metadata: dict[str, str]


@dataclass(frozen=True)
class RefundInfo:
    id: str
    status: str
    amount: int
    metadata: dict[str, str]


@dataclass(frozen=True)
class TransferInfo:
    id: str
    destination: str
    amount: int
    currency: str
    transfer_group: str | None
    metadata: dict[str, str]


def _d(obj: Any) -> dict[str, Any]:
    """A plain dict of a Stripe object (SDK objects are not dicts since stripe 12)."""
    out: dict[str, Any] = obj.to_dict() if hasattr(obj, "to_dict") else dict(obj)
    return out


def _find_by_key(list_page: Callable[[], Any], key: str) -> Any | None:
    """Reconciliation: the first listed Stripe object whose ``metadata.tilework_key`` is ``key``."""
    try:
        page = list_page()
    except stripe.StripeError as exc:
        raise CardRailError(str(exc)) from exc
    for obj in page.auto_paging_iter():
        if (_d(obj).get("metadata") or {}).get("tilework_key") == key:
            return obj
    return None


def _pi(obj: Any) -> PaymentIntentInfo:
    obj = _d(obj)
    return PaymentIntentInfo(
        id=obj["id"],
        client_secret=obj.get("client_secret"),
        status=obj["status"],
        amount=int(obj["amount"]),
        currency=obj["currency"],
        metadata=dict(obj.get("metadata") or {}),
    )


def _refund(obj: Any) -> RefundInfo:
    obj = _d(obj)
    return RefundInfo(
        id=obj["id"],
        status=obj.get("status") or "succeeded",
        amount=int(obj["amount"]),
        metadata=dict(obj.get("metadata") or {}),
    )


class CardPayments:
    """PaymentIntents, refunds, webhook verification."""

    def __init__(self, secret_key: str, *, api_base: str | None = None, max_network_retries: int = 2) -> None:
        base: Any = {"api": api_base.rstrip("/")} if api_base else None
        self.api_base = api_base.rstrip("/") if api_base else None
        self.client = stripe.StripeClient(
            secret_key, base_addresses=base, max_network_retries=max_network_retries
        )

    @property
    def emulated(self) -> bool:
        """This adapter talks to a local emulator (localstripe on a loopback address), not to Stripe."""
        from marketplace.payment_settings import is_local_stripe_base

        return is_local_stripe_base(self.api_base)

    def _need_emulator(self, what: str) -> str:
        if not self.emulated or self.api_base is None:
            raise CardRailError(f"{what} is only available against a local Stripe emulator")
        return self.api_base

    def create_payment_intent(
        self,
        *,
        amount: int,
        currency: str,
        idempotency_key: str,
        metadata: dict[str, str],
        description: str = "",
    ) -> PaymentIntentInfo:
        params: Any = {
            "amount": amount,
            "currency": currency,
            "capture_method": "automatic",
            "metadata": metadata,
        }
        if description:
            params["description"] = description
        try:
            return _pi(self.client.v1.payment_intents.create(params, {"idempotency_key": idempotency_key}))
        except stripe.StripeError as exc:
            raise CardRailError(str(exc)) from exc

    def retrieve_payment_intent(self, pi_id: str) -> PaymentIntentInfo:
        try:
            return _pi(self.client.v1.payment_intents.retrieve(pi_id))
        except stripe.StripeError as exc:
            raise CardRailError(str(exc)) from exc

    def refund(
        self, *, payment_intent: str, amount: int, idempotency_key: str, metadata: dict[str, str]
    ) -> RefundInfo:
        params: Any = {"payment_intent": payment_intent, "amount": amount, "metadata": metadata}
        try:
            return _refund(self.client.v1.refunds.create(params, {"idempotency_key": idempotency_key}))
        except stripe.StripeError as exc:
            raise CardRailError(str(exc)) from exc

    def find_refund(self, *, payment_intent: str, key: str) -> RefundInfo | None:
        """Reconciliation: a refund of this PaymentIntent carrying ``metadata.tilework_key == key``."""
        found = _find_by_key(
            lambda: self.client.v1.refunds.list({"payment_intent": payment_intent, "limit": 100}), key
        )
        return _refund(found) if found is not None else None

    # -- local emulator only (localstripe): the test-card path of the job page -------------------------

    def register_emulator_webhook(self, *, name: str, url: str, secret: str) -> None:
        """Tell localstripe where to send its signed events (its ``/_config/webhooks/{name}``); on Stripe
        this is done in the dashboard, so it is refused there."""
        import httpx

        base = self._need_emulator("configuring webhooks through the API")
        try:
            r = httpx.post(f"{base}/_config/webhooks/{name}", data={"url": url, "secret": secret}, timeout=10)
        except httpx.HTTPError as exc:
            raise CardRailError(f"the Stripe emulator is unreachable: {exc}") from exc
        if r.status_code != 200:
            raise CardRailError(f"the Stripe emulator refused the webhook: HTTP {r.status_code}")

    def confirm_with_test_card(self, pi_id: str) -> PaymentIntentInfo:
        """Pay a PaymentIntent with Stripe's test card 4242 4242 4242 4242 (emulator only). Attaches a
        card payment method, then confirms (localstripe confirms only a PaymentIntent that already has
        its payment method). A PaymentIntent that already succeeded is returned as it is."""
        self._need_emulator("the test card")
        pi = self.retrieve_payment_intent(pi_id)
        if pi.status in ("succeeded", "processing", "canceled"):
            return pi
        try:
            pm = _d(
                self.client.v1.payment_methods.create(
                    {
                        "type": "card",
                        "card": {"number": TEST_CARD, "exp_month": 12, "exp_year": 2034, "cvc": "123"},
                    }
                )
            )
            self.client.v1.payment_intents.update(pi_id, {"payment_method": pm["id"]})
            return _pi(self.client.v1.payment_intents.confirm(pi_id))
        except stripe.StripeError as exc:
            raise CardRailError(str(exc)) from exc

    @staticmethod
    def verify_webhook(
        payload: bytes, sig_header: str | None, secret: str, tolerance_s: int, now: float | None = None
    ) -> dict[str, Any]:
        """Check ``Stripe-Signature`` (HMAC-SHA256 over ``t.payload``, timestamp within tolerance in
        both directions: the SDK only refuses old ones) and return the event object.

        Raises :class:`WebhookSignatureInvalid` for a bad signature or timestamp, ``ValueError`` for a
        signed body that is not a JSON object."""
        if not sig_header:
            raise WebhookSignatureInvalid("missing Stripe-Signature header")
        try:
            stripe.WebhookSignature.verify_header(payload.decode("utf-8"), sig_header, secret, tolerance_s)
        except (stripe.SignatureVerificationError, UnicodeDecodeError) as exc:
            raise WebhookSignatureInvalid(str(exc)) from exc
        stamps = [p.partition("=")[2] for p in sig_header.split(",") if p.strip().startswith("t=")]
        try:
            ts = int(stamps[0].strip())
        except (IndexError, ValueError) as exc:
            raise WebhookSignatureInvalid("no timestamp in the signature header") from exc
        if ts > (time.time() if now is None else now) + tolerance_s:
            raise WebhookSignatureInvalid("timestamp is in the future, outside the tolerance zone")
        try:
            event = json.loads(payload)
        except (json.JSONDecodeError, RecursionError) as exc:
            raise ValueError("the body is not JSON") from exc
        if not isinstance(event, dict):
            raise ValueError("the body is not a JSON object")
        return event


# --------------------------------------------------------------------------- Connect


class ConnectTransfers(Protocol):
    def create_account(self, *, email: str, idempotency_key: str) -> str: ...

    def onboarding_link(self, account_id: str, *, refresh_url: str, return_url: str) -> str: ...

    def account_ready(self, account_id: str) -> bool: ...

    def transfer(
        self,
        *,
        destination: str,
        amount: int,
        currency: str,
        transfer_group: str,
        idempotency_key: str,
        metadata: dict[str, str],
    ) -> TransferInfo: ...

    def find_transfer(self, *, transfer_group: str, idempotency_key: str) -> TransferInfo | None: ...


def _transfer(obj: Any) -> TransferInfo:
    obj = _d(obj)
    dest = obj["destination"]
    return TransferInfo(
        id=obj["id"],
        destination=dest if isinstance(dest, str) else dest["id"],
        amount=int(obj["amount"]),
        currency=obj["currency"],
        transfer_group=obj.get("transfer_group"),
        metadata=dict(obj.get("metadata") or {}),
    )


class StripeConnectTransfers:
    """Real Stripe Connect (Express accounts)."""

    def __init__(self, secret_key: str, *, api_base: str | None = None) -> None:
        base: Any = {"api": api_base.rstrip("/")} if api_base else None
        self.client = stripe.StripeClient(secret_key, base_addresses=base, max_network_retries=2)

    def create_account(self, *, email: str, idempotency_key: str) -> str:
        params: Any = {
            "type": "express",
            "email": email,
            "capabilities": {"transfers": {"requested": True}},
        }
        try:
            return str(self.client.v1.accounts.create(params, {"idempotency_key": idempotency_key})["id"])
        except stripe.StripeError as exc:
            raise CardRailError(str(exc)) from exc

    def onboarding_link(self, account_id: str, *, refresh_url: str, return_url: str) -> str:
        params: Any = {
            "account": account_id,
            "refresh_url": refresh_url,
            "return_url": return_url,
            "type": "account_onboarding",
        }
        try:
            return str(self.client.v1.account_links.create(params)["url"])
        except stripe.StripeError as exc:
            raise CardRailError(str(exc)) from exc

    def account_ready(self, account_id: str) -> bool:
        try:
            account = _d(self.client.v1.accounts.retrieve(account_id))
        except stripe.StripeError as exc:
            raise CardRailError(str(exc)) from exc
        return (
            bool(account.get("payouts_enabled"))
            or (account.get("capabilities") or {}).get("transfers") == "active"
        )

    def transfer(
        self,
        *,
        destination: str,
        amount: int,
        currency: str,
        transfer_group: str,
        idempotency_key: str,
        metadata: dict[str, str],
    ) -> TransferInfo:
        params: Any = {
            "destination": destination,
            "amount": amount,
            "currency": currency,
            "transfer_group": transfer_group,
            "metadata": {**metadata, "tilework_key": idempotency_key},
        }
        try:
            return _transfer(self.client.v1.transfers.create(params, {"idempotency_key": idempotency_key}))
        except stripe.StripeError as exc:
            raise CardRailError(str(exc)) from exc

    def find_transfer(self, *, transfer_group: str, idempotency_key: str) -> TransferInfo | None:
        found = _find_by_key(
            lambda: self.client.v1.transfers.list({"transfer_group": transfer_group, "limit": 100}),
            idempotency_key,
        )
        return _transfer(found) if found is not None else None


class StandinConnectTransfers:
    """A local stand-in for Stripe Connect (localstripe has none). State lives in a SQLite file shared by
    every process, written in its own transactions, so it behaves like an external service: a transfer
    made before our process crashed is still there afterwards. Idempotency keys are honoured: a key seen
    before returns the first transfer, and a key reused with different parameters is an error, as on
    Stripe. Accounts are ready at once (there is no onboarding to do)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._db() as db:
            db.executescript(
                """
                CREATE TABLE IF NOT EXISTS accounts (
                    id TEXT PRIMARY KEY, email TEXT NOT NULL, idempotency_key TEXT UNIQUE NOT NULL
                );
                CREATE TABLE IF NOT EXISTS transfers (
                    id TEXT PRIMARY KEY, idempotency_key TEXT UNIQUE NOT NULL, destination TEXT NOT NULL,
                    amount TEXT NOT NULL, currency TEXT NOT NULL, transfer_group TEXT, metadata TEXT NOT NULL,
                    created REAL NOT NULL
                );
                CREATE INDEX IF NOT EXISTS ix_transfers_group ON transfers (transfer_group);
                """
            )

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA busy_timeout=30000")
            yield conn
        finally:
            conn.close()

    def create_account(self, *, email: str, idempotency_key: str) -> str:
        with self._db() as db:
            db.execute("BEGIN IMMEDIATE")
            row = db.execute(
                "SELECT id FROM accounts WHERE idempotency_key = ?", (idempotency_key,)
            ).fetchone()
            if row:
                db.execute("COMMIT")
                return str(row[0])
            account_id = "acct_" + secrets.token_hex(8)
            db.execute("INSERT INTO accounts VALUES (?, ?, ?)", (account_id, email, idempotency_key))
            db.execute("COMMIT")
            return account_id

    def onboarding_link(self, account_id: str, *, refresh_url: str, return_url: str) -> str:
        return f"{return_url}?account={account_id}&standin=1"

    def account_ready(self, account_id: str) -> bool:
        with self._db() as db:
            return db.execute("SELECT 1 FROM accounts WHERE id = ?", (account_id,)).fetchone() is not None

    def transfer(
        self,
        *,
        destination: str,
        amount: int,
        currency: str,
        transfer_group: str,
        idempotency_key: str,
        metadata: dict[str, str],
    ) -> TransferInfo:
        if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
            raise ValueError("a transfer amount is a positive int")
        meta = json.dumps({**metadata, "tilework_key": idempotency_key}, sort_keys=True)
        with self._db() as db:
            db.execute("BEGIN IMMEDIATE")
            row = db.execute(
                "SELECT id, destination, amount, currency, transfer_group, metadata FROM transfers "
                "WHERE idempotency_key = ?",
                (idempotency_key,),
            ).fetchone()
            if row is None:
                if not self.account_ready(destination):
                    db.execute("ROLLBACK")
                    raise CardRailError(f"No such destination: '{destination}'")
                row = (
                    "tr_" + secrets.token_hex(10),
                    destination,
                    str(amount),
                    currency,
                    transfer_group,
                    meta,
                )
                db.execute(
                    "INSERT INTO transfers VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        row[0],
                        idempotency_key,
                        destination,
                        str(amount),
                        currency,
                        transfer_group,
                        meta,
                        time.time(),
                    ),
                )
            db.execute("COMMIT")
        if (row[1], int(row[2]), row[3]) != (destination, amount, currency):
            raise CardRailError("Keys for idempotent requests can only be used with the same parameters")
        return TransferInfo(row[0], row[1], int(row[2]), row[3], row[4], json.loads(row[5]))

    def find_transfer(self, *, transfer_group: str, idempotency_key: str) -> TransferInfo | None:
        with self._db() as db:
            row = db.execute(
                "SELECT id, destination, amount, currency, transfer_group, metadata FROM transfers "
                "WHERE idempotency_key = ? AND transfer_group = ?",
                (idempotency_key, transfer_group),
            ).fetchone()
        if row is None:
            return None
        return TransferInfo(row[0], row[1], int(row[2]), row[3], row[4], json.loads(row[5]))

    def totals_by_destination(self) -> dict[str, int]:
        """What each account received (for tests and the demo)."""
        with self._db() as db:
            rows = db.execute("SELECT destination, amount FROM transfers").fetchall()
        out: dict[str, int] = {}
        for dest, amount in rows:
            out[dest] = out.get(dest, 0) + int(amount)
        return out

    def transfer_count(self) -> int:
        with self._db() as db:
            return int(db.execute("SELECT COUNT(*) FROM transfers").fetchone()[0])
