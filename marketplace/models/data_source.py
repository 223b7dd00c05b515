"""Data a requester has proven to own: an S3 bucket prefix, verified by a token object the requester
wrote into it. A job over HTTP reads S3 data only under a verified source of its own requester."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.models.base import Base, TimestampMixin, UTCDateTime


class DataSource(TimestampMixin, Base):
    __tablename__ = "data_sources"

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    #: Normalised ``s3://bucket/prefix/`` (always ending in ``/``; ``s3://bucket/`` for a whole bucket).
    uri: Mapped[str] = mapped_column(String(1100), nullable=False)
    #: What the proof object must contain; random, shown to the owner only.
    token: Mapped[str] = mapped_column(String(64), nullable=False)
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    __table_args__ = (
        UniqueConstraint("owner_id", "uri", name="uq_data_sources_owner_uri"),
        Index("ix_data_sources_owner", "owner_id"),
    )
