"""A video job's videos and segments.

Each video of a ``video_*`` job is one ``JobImage`` row (its name, upright size and bytes) with a
:class:`JobVideo` beside it: the frame count probed when the job was created, and, once ingested at
activation, where its frame chunks and manifest are in platform storage. A *segment* is a run of
consecutive frames of one video, the unit of assignment, pay and scoring: a ``Chunk`` holding that
video as its one image, with a :class:`VideoSegment` giving the frame range.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.models.base import Base


class JobVideo(Base):
    __tablename__ = "job_videos"

    image_id: Mapped[int] = mapped_column(ForeignKey("job_images.id", ondelete="CASCADE"), primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False)
    #: frames on the constant grid, as probed when the job was created (segments are cut from it)
    frame_count: Mapped[int] = mapped_column(Integer, nullable=False)
    fps: Mapped[str] = mapped_column(String(32), nullable=False)
    # -- set by the ingest (NULL until then) --
    manifest_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    chunk_keys: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True)
    chunk_frames: Mapped[int | None] = mapped_column(Integer, nullable=True)
    #: the served frames' size; ``scale`` is served pixels per original (upright) pixel
    frame_width: Mapped[int | None] = mapped_column(Integer, nullable=True)
    frame_height: Mapped[int | None] = mapped_column(Integer, nullable=True)
    scale: Mapped[float | None] = mapped_column(Float, nullable=True)
    #: the requester's hidden GT in this video (NULL: none): the frames annotated completely, and the
    #: tracks (track JSON, original pixels) that are the truth on them
    gt_frames: Mapped[list[int] | None] = mapped_column(JSON, nullable=True)
    gt_tracks: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True)

    __table_args__ = (Index("ix_job_videos_job_id", "job_id"),)


class VideoSegment(Base):
    """Frames ``[start_frame, end_frame)`` of one video, as the chunk ``chunk_id``."""

    __tablename__ = "video_segments"

    chunk_id: Mapped[int] = mapped_column(ForeignKey("chunks.id", ondelete="CASCADE"), primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False)
    image_id: Mapped[int] = mapped_column(ForeignKey("job_images.id", ondelete="CASCADE"), nullable=False)
    start_frame: Mapped[int] = mapped_column(Integer, nullable=False)
    end_frame: Mapped[int] = mapped_column(Integer, nullable=False)

    __table_args__ = (Index("ix_video_segments_job_image", "job_id", "image_id", "start_frame"),)
