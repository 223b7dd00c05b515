"""Accounts: registration, login, API tokens. Never commits."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from marketplace.accounts import repository, token_cache
from marketplace.accounts.passwords import password_problem
from marketplace.accounts.security import hash_password, new_token, token_digest, verify_password
from marketplace.errors import EmailTaken, Forbidden, InvalidInput, NotFound, Unauthorized
from marketplace.models import ApiToken, Role, User, utcnow

# A constant hash so a login for an unknown email costs the same as a wrong password.
_DUMMY_HASH = hash_password("not-a-real-password")


def register(session: Session, *, email: str, password: str, role: Role, display_name: str = "") -> User:
    email = email.strip().lower()
    problem = password_problem(password, email)
    if problem:
        raise InvalidInput(problem, field="password")
    if repository.get_user_by_email(session, email) is not None:
        raise EmailTaken(f"an account with email {email!r} already exists", field="email")
    user = User(email=email, password_hash=hash_password(password), role=role, display_name=display_name)
    try:
        with session.begin_nested():
            repository.add_user(session, user)
    except IntegrityError as exc:
        raise EmailTaken(f"an account with email {email!r} already exists", field="email") from exc
    return user


def authenticate(session: Session, email: str, password: str) -> User:
    user = repository.get_user_by_email(session, email.strip().lower())
    if user is None:
        verify_password(_DUMMY_HASH, password)
        raise Unauthorized("wrong email or password")
    if not verify_password(user.password_hash, password):
        raise Unauthorized("wrong email or password")
    if not user.is_active:
        raise Forbidden("this account is disabled")
    return user


def issue_token(session: Session, user: User, *, name: str, ttl_days: int) -> tuple[str, ApiToken]:
    token = new_token()
    row = ApiToken(
        user_id=user.id,
        token_hash=token_digest(token),
        name=name,
        expires_at=utcnow() + timedelta(days=ttl_days),
    )
    repository.add_token(session, row)
    return token, row


def cached_user_for_token(session: Session, token: str, now: datetime | None = None) -> User | None:
    """The token's user from this process's cache, without touching the database; ``None`` when the
    cache cannot say (then :func:`user_for_token` looks it up)."""
    return token_cache.get(session, token_digest(token), now or utcnow())


def user_for_token(session: Session, token: str, now: datetime | None = None) -> User:
    """The live token's user; a token seen in the last few seconds skips the lookup (the bound on how
    long a revocation takes to reach every process is in :mod:`marketplace.accounts.token_cache`)."""
    now = now or utcnow()
    digest = token_digest(token)
    cached = token_cache.get(session, digest, now)
    if cached is not None:
        return cached
    read_generation = token_cache.generation()
    found = repository.find_live_token(session, digest, now)
    if found is None:
        raise Unauthorized("invalid or expired token")
    token_cache.put(digest, found[0], found[1], read_generation)
    return found[1]


def list_tokens(session: Session, user: User) -> list[ApiToken]:
    return repository.list_tokens(session, user.id)


def token_is_live(row: ApiToken, now: datetime | None = None) -> bool:
    return row.revoked_at is None and row.expires_at > (now or utcnow())


def revoke_token(session: Session, user: User, token_id: int) -> None:
    """Revoke one of the user's own tokens (again: no change); someone else's is a 404."""
    for row in repository.list_tokens(session, user.id):
        if row.id == token_id:
            if row.revoked_at is None:
                row.revoked_at = utcnow()
            return
    raise NotFound(f"token {token_id} not found")


def require_workers(session: Session, user_ids: list[int], field: str) -> None:
    """Refuse (422, naming them) ids that are not active worker accounts: a team is made of workers."""
    unknown = sorted(set(user_ids) - repository.worker_ids_among(session, user_ids))
    if unknown:
        raise InvalidInput(f"users {unknown} are not worker accounts; a team is made of workers", field=field)
