"""SQL of the datasets domain: the data sources requesters have registered."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from marketplace.models import DataSource


def add_source(session: Session, source: DataSource) -> None:
    session.add(source)
    session.flush()


def get_source(session: Session, source_id: int) -> DataSource | None:
    return session.get(DataSource, source_id)


def source_of(session: Session, owner_id: int, uri: str) -> DataSource | None:
    stmt = select(DataSource).where(DataSource.owner_id == owner_id, DataSource.uri == uri)
    return session.scalars(stmt).first()


def sources_of(session: Session, owner_id: int) -> list[DataSource]:
    stmt = select(DataSource).where(DataSource.owner_id == owner_id).order_by(DataSource.id)
    return list(session.scalars(stmt))


def verified_sources_in_bucket(session: Session, owner_id: int, bucket_uri: str) -> list[DataSource]:
    stmt = select(DataSource).where(
        DataSource.owner_id == owner_id,
        DataSource.verified_at.is_not(None),
        DataSource.uri.startswith(bucket_uri, autoescape=True),
    )
    return list(session.scalars(stmt))
