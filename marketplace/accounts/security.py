"""Password hashing (argon2id) and bearer tokens (random, stored as SHA-256).

Each argon2 hash takes tens of milliseconds of CPU and 64 MiB of memory. At most ``concurrency`` run
at once in a process and at most four times as many callers wait for a slot; a caller beyond that, or
one that cannot get a slot within ``wait_s``, gets a 429 at once instead of queueing. A flood of logins
then holds a handful of the server's threads and request slots, never all of them.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from collections.abc import Callable
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from marketplace.errors import TooManyRequests

_hasher = PasswordHasher()
TOKEN_PREFIX = "tw_"
T = TypeVar("T")
BUSY = "the server is busy checking passwords; try again shortly"


class _HashSlots:
    def __init__(self, concurrency: int = 2, wait_s: float = 5.0) -> None:
        self.configure(concurrency, wait_s)

    def configure(self, concurrency: int, wait_s: float) -> None:
        self.concurrency = max(1, concurrency)
        self.max_waiting = 4 * self.concurrency
        self.wait_s = wait_s
        self._slots = threading.BoundedSemaphore(self.concurrency)
        self._lock = threading.Lock()
        self._waiting = 0

    def run(self, work: Callable[[], T]) -> T:
        slots = self._slots
        with self._lock:
            if self._waiting >= self.max_waiting:
                raise TooManyRequests(BUSY, retry_after=1)
            self._waiting += 1
        try:
            got = slots.acquire(timeout=self.wait_s)
        finally:
            with self._lock:
                self._waiting -= 1
        if not got:
            raise TooManyRequests(BUSY, retry_after=1)
        try:
            return work()
        finally:
            slots.release()


hash_slots = _HashSlots()


def configure_hashing(concurrency: int, wait_s: float) -> None:
    """Set the process's bound on concurrent password hashing (``create_app`` does, from settings)."""
    hash_slots.configure(concurrency, wait_s)


def hash_password(password: str) -> str:
    return hash_slots.run(lambda: _hasher.hash(password))


def verify_password(password_hash: str, password: str) -> bool:
    def _verify() -> bool:
        try:
            return _hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    return hash_slots.run(_verify)


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
