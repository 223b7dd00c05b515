"""Login rate limits: per client address (every attempt) and per account (failed attempts).

Both are checked before any password is hashed, so a refused attempt costs no argon2 work. A success
clears the account's failures. The account key is a hash of the normalised email (no addresses in
Redis); IPv6 clients are counted per /64, which one household or host usually holds.
"""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass

from sqlalchemy.orm import Session

from marketplace.accounts import service
from marketplace.accounts.ratelimit import RateLimiter, make_rate_limiter
from marketplace.errors import TooManyRequests, Unauthorized
from marketplace.models import User


@dataclass(frozen=True)
class LoginLimits:
    per_address: int = 20
    address_window_s: int = 60
    failures_per_account: int = 10
    account_window_s: int = 900


def address_key(address: str | None) -> str:
    if not address:
        return "addr:unknown"
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return f"addr:{address[:64]}"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return f"addr:{ip.ipv4_mapped}"
        return f"addr:{ipaddress.ip_network(f'{ip}/64', strict=False).network_address}/64"
    return f"addr:{ip}"


def account_key(email: str) -> str:
    return "acct:" + hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]


class LoginGuard:
    def __init__(self, limiter: RateLimiter, limits: LoginLimits) -> None:
        self.limiter = limiter
        self.limits = limits

    @classmethod
    def from_settings(cls, redis_url: str | None, limits: LoginLimits) -> LoginGuard:
        return cls(make_rate_limiter(redis_url), limits)

    def authenticate(self, session: Session, email: str, password: str, address: str | None) -> User:
        limits = self.limits
        wait = self.limiter.hit(address_key(address), limits.per_address, limits.address_window_s)
        if wait is not None:
            raise TooManyRequests(
                "too many sign-in attempts from your address; try again later", retry_after=wait
            )
        acct = account_key(email)
        wait = self.limiter.peek(acct, limits.failures_per_account, limits.account_window_s)
        if wait is not None:
            raise TooManyRequests(
                "too many failed sign-ins for this account; try again later", retry_after=wait
            )
        try:
            user = service.authenticate(session, email, password)
        except Unauthorized:
            self.limiter.hit(acct, limits.failures_per_account, limits.account_window_s)
            raise
        self.limiter.reset(acct)
        return user
