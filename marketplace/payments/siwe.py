"""Linking a worker's payout wallet with Sign-In with Ethereum (EIP-4361).

The server issues a message with a fresh nonce for one user and one address and keeps it. The worker
signs it (``personal_sign``, EIP-191) and sends it back. We accept only the exact message we issued,
unexpired and unused, signed by the address it names; the nonce is then spent. A replayed message, a
signature by any other key, or a nonce issued to another user is refused. Never commits.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils import is_address, to_checksum_address
from sqlalchemy.orm import Session

from marketplace.errors import Forbidden, InvalidInput, SignInMessageUsed, WalletTaken
from marketplace.models import PayoutDestination, Rail, SiweNonce, User, utcnow
from marketplace.payment_settings import PaymentSettings
from marketplace.payments import repository as repo

STATEMENT = "Link this wallet to receive Tilework payouts."


def _iso(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def build_message(
    *,
    domain: str,
    address: str,
    uri: str,
    chain_id: int,
    nonce: str,
    issued_at: datetime,
    expires_at: datetime,
) -> str:
    """An EIP-4361 message (ABNF layout of the spec)."""
    return (
        f"{domain} wants you to sign in with your Ethereum account:\n"
        f"{address}\n\n"
        f"{STATEMENT}\n\n"
        f"URI: {uri}\n"
        f"Version: 1\n"
        f"Chain ID: {chain_id}\n"
        f"Nonce: {nonce}\n"
        f"Issued At: {_iso(issued_at)}\n"
        f"Expiration Time: {_iso(expires_at)}"
    )


_FIELDS = re.compile(r"^(URI|Version|Chain ID|Nonce|Issued At|Expiration Time): (.+)$", re.M)


@dataclass(frozen=True)
class ParsedMessage:
    domain: str
    address: str
    fields: dict[str, str]


def parse_message(message: str) -> ParsedMessage:
    lines = message.split("\n")
    if len(lines) < 3 or not lines[0].endswith(" wants you to sign in with your Ethereum account:"):
        raise InvalidInput("not a Sign-In with Ethereum message", field="message")
    address = lines[1].strip()
    if not is_address(address):
        raise InvalidInput("the message names no valid address", field="message")
    fields = dict(_FIELDS.findall(message))
    if "Nonce" not in fields:
        raise InvalidInput("the message has no nonce", field="message")
    return ParsedMessage(lines[0].split(" wants you")[0], to_checksum_address(address), fields)


def issue(session: Session, user: User, address: str, ps: PaymentSettings, chain_id: int) -> SiweNonce:
    if not is_address(address):
        raise InvalidInput("not an Ethereum address", field="address")
    address = to_checksum_address(address)
    now = utcnow()
    nonce = secrets.token_hex(16)
    expires = now + timedelta(seconds=ps.siwe_nonce_ttl_s)
    row = SiweNonce(
        user_id=user.id,
        nonce=nonce,
        address=address,
        expires_at=expires,
        message=build_message(
            domain=ps.siwe_domain,
            address=address,
            uri=ps.siwe_uri,
            chain_id=chain_id,
            nonce=nonce,
            issued_at=now,
            expires_at=expires,
        ),
    )
    repo.add(session, row)
    return row


def verify_and_link(session: Session, user: User, message: str, signature: str) -> PayoutDestination:
    parsed = parse_message(message)
    row = repo.open_nonce(session, parsed.fields["Nonce"])
    if row is None or row.user_id != user.id:
        raise Forbidden("unknown nonce: ask for a new message")
    if row.used_at is not None:
        raise SignInMessageUsed("this message was already used; ask for a new one")
    if row.expires_at < utcnow():
        raise Forbidden("this message has expired; ask for a new one")
    if message != row.message:
        raise Forbidden("the message differs from the one the server issued")
    try:
        recovered = Account.recover_message(encode_defunct(text=message), signature=signature)
    except Exception as exc:  # malformed signature bytes
        raise InvalidInput("the signature is malformed", field="signature") from exc
    if to_checksum_address(recovered) != row.address:
        raise Forbidden("the signature is not from the address in the message")
    row.used_at = utcnow()
    if repo.destination_taken(session, Rail.chain.value, row.address, user.id):
        raise WalletTaken("this wallet is already linked to another account")
    dest = repo.destination(session, user.id, Rail.chain.value)
    if dest is None:
        dest = PayoutDestination(user_id=user.id, rail=Rail.chain, destination=row.address)
        repo.add(session, dest)
    dest.destination = row.address
    dest.verified_at = utcnow()
    return dest
