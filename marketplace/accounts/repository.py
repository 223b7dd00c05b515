from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from marketplace.models import ApiToken, Role, User


def get_user(session: Session, user_id: int) -> User | None:
    return session.get(User, user_id)


def get_user_by_email(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == email))


def add_user(session: Session, user: User) -> User:
    session.add(user)
    session.flush()
    return user


def add_token(session: Session, token: ApiToken) -> ApiToken:
    session.add(token)
    session.flush()
    return token


def find_live_token(session: Session, digest: str, now: datetime) -> tuple[ApiToken, User] | None:
    row = session.execute(
        select(ApiToken, User)
        .join(User, User.id == ApiToken.user_id)
        .where(
            ApiToken.token_hash == digest,
            ApiToken.revoked_at.is_(None),
            ApiToken.expires_at > now,
            User.is_active.is_(True),
        )
    ).first()
    return (row[0], row[1]) if row else None


def list_tokens(session: Session, user_id: int) -> list[ApiToken]:
    return list(session.scalars(select(ApiToken).where(ApiToken.user_id == user_id).order_by(ApiToken.id)))


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.id)))


def worker_ids_among(session: Session, user_ids: list[int]) -> set[int]:
    """Those of these ids that are active worker accounts."""
    if not user_ids:
        return set()
    stmt = select(User.id).where(User.id.in_(user_ids), User.role == Role.worker, User.is_active.is_(True))
    return set(session.scalars(stmt))
