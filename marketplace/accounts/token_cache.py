"""A per-process cache of bearer token → user, so an authenticated request skips its token lookup.

Security bound: a token revoked, expired or whose user is disabled stops working

* at once in the process that made the change through the ORM (a changed, deleted or bulk-updated
  ``ApiToken`` or ``User`` drops the matching entries, or all of them, when the change commits);
* within :data:`TTL_S` seconds everywhere else (other API processes, changes made with raw SQL): an
  entry is trusted for at most that long after it was read from the database;
* never after the token's own ``expires_at``, which every hit checks.

A read that raced with an invalidation is not stored (a generation counter): a lookup that started
before a revocation committed cannot put the old state back for a full TTL.

Each hit gives the request its own ``User`` instance, attached to its session without a query
(``merge(load=False)`` of a copy): nothing one request changes on it leaks into another.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime
from typing import Any

from sqlalchemy import event, inspect
from sqlalchemy.orm import ORMExecuteState, Session, make_transient_to_detached

from marketplace.models import ApiToken, User

TTL_S = 5.0
MAX_ENTRIES = 50_000
_KEY = "token_cache_drop"

_lock = threading.Lock()
_entries: dict[str, tuple[float, datetime, dict[str, Any]]] = {}  # digest -> (read at, expires, user)
_generation = 0
_ttl_s = TTL_S
_COLUMNS = [c.key for c in inspect(User).column_attrs]


def configure(ttl_s: float) -> None:
    """Set the bound (0 turns the cache off); drops every entry."""
    global _ttl_s
    _ttl_s = max(0.0, ttl_s)
    clear()


def clear() -> None:
    global _generation
    with _lock:
        _entries.clear()
        _generation += 1


def generation() -> int:
    return _generation


def get(session: Session, digest: str, now: datetime) -> User | None:
    """The token's user attached to ``session``, if a fresh entry says the token is live."""
    if _ttl_s <= 0:
        return None
    entry = _entries.get(digest)
    if entry is None:
        return None
    read_at, expires_at, values = entry
    if time.monotonic() - read_at > _ttl_s or expires_at <= now:
        with _lock:
            _entries.pop(digest, None)
        return None
    copy = User(**values)
    make_transient_to_detached(copy)
    return session.merge(copy, load=False)


def put(digest: str, token: ApiToken, user: User, read_generation: int) -> None:
    """Remember a live token read from the database while the generation was ``read_generation``."""
    if _ttl_s <= 0:
        return
    values = {key: getattr(user, key) for key in _COLUMNS}
    with _lock:
        if read_generation != _generation:
            return  # something was invalidated while this was read: do not bring it back
        if len(_entries) >= MAX_ENTRIES:
            _entries.clear()
        _entries[digest] = (time.monotonic(), token.expires_at, values)


def _drop(digests: set[str], user_ids: set[int]) -> None:
    global _generation
    with _lock:
        _generation += 1
        for digest, (_, _, values) in list(_entries.items()):
            if digest in digests or values["id"] in user_ids:
                del _entries[digest]


@event.listens_for(Session, "before_flush")
def _note_changes(session: Session, _context: Any, _instances: Any) -> None:
    drops = session.info.setdefault(_KEY, (set(), set()))
    for obj in (*session.dirty, *session.deleted):
        if isinstance(obj, ApiToken):
            drops[0].add(obj.token_hash)
        elif isinstance(obj, User) and obj.id is not None:
            drops[1].add(obj.id)


@event.listens_for(Session, "do_orm_execute")
def _note_bulk_changes(state: ORMExecuteState) -> None:
    mapper = state.bind_mapper
    if (state.is_update or state.is_delete) and mapper is not None and mapper.class_ in (ApiToken, User):
        state.session.info[_KEY + "_all"] = True


@event.listens_for(Session, "after_commit")
def _apply(session: Session) -> None:
    drops = session.info.pop(_KEY, None)
    if session.info.pop(_KEY + "_all", False):
        clear()
    elif drops is not None and (drops[0] or drops[1]):
        _drop(*drops)


@event.listens_for(Session, "after_soft_rollback")
def _forget(session: Session, previous_transaction: Any) -> None:
    if not getattr(previous_transaction, "nested", False):
        session.info.pop(_KEY, None)
        session.info.pop(_KEY + "_all", None)
