"""A job image as workers receive it: one serving rendition in platform storage.

Made once when the job is activated (see :mod:`marketplace.media.renditions`). ``key`` is random and
names an object in platform storage; ``width``/``height`` are the rendition's pixels and ``scale`` is
rendition pixels per original pixel (``<= 1``), so geometry stays in the original's coordinates.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.models.base import Base, UTCDateTime, utcnow


class Rendition(Base):
    __tablename__ = "media_renditions"

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False)
    image_id: Mapped[int] = mapped_column(ForeignKey("job_images.id", ondelete="CASCADE"), nullable=False)
    key: Mapped[str] = mapped_column(String(200), nullable=False)
    width: Mapped[int] = mapped_column(Integer, nullable=False)
    height: Mapped[int] = mapped_column(Integer, nullable=False)
    scale: Mapped[float] = mapped_column(Float, nullable=False)
    size_bytes: Mapped[int] = mapped_column(Integer, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)

    __table_args__ = (
        UniqueConstraint("image_id", name="uq_media_renditions_image_id"),
        Index("ix_media_renditions_job_id", "job_id"),
    )
