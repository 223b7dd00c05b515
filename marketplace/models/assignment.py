"""Chunks of a job's data, the assignments that issue them to workers, and what workers return.

Worker-facing identifiers are the random ``AssignmentItem.token`` values, never image ids or names.
``AssignmentItem.is_gt`` and ``GtImageStat`` are internal: nothing a worker receives is derived from
them.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.models.base import Base, TimestampMixin, UTCDateTime, utcnow


class ChunkStatus(StrEnum):
    open = "open"  # has a free slot: can be claimed by a worker who never held it
    full = "full"  # every slot is held (assigned/submitted) or accepted
    done = "done"  # accepted ``overlap`` times
    in_review = "in_review"  # rejected ``max_attempts`` times: a reviewer decides
    waiting = "waiting"  # a pipeline stage in sequence: its images are not done in the stage before


class AssignmentStatus(StrEnum):
    assigned = "assigned"
    submitted = "submitted"
    accepted = "accepted"
    rejected = "rejected"
    expired = "expired"


class AssignmentSlot(StrEnum):
    """Which of a worker's (at most two) active assignments in a job this is.

    ``current`` is the one being worked on; ``next`` is claimed ahead (``?ahead=true``) so its images
    can be preloaded. Finished rows keep the slot they had last. See ``assignments.states``.
    """

    current = "current"
    next = "next"


ACTIVE_ASSIGNMENT = "status = 'assigned'"
SLOT_VALUES = "slot IN ('current', 'next')"


class Chunk(TimestampMixin, Base):
    """``assignment_size`` consecutive non-GT images of a job, to be issued ``overlap`` times."""

    __tablename__ = "chunks"

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False)
    position: Mapped[int] = mapped_column(Integer, nullable=False)
    status: Mapped[ChunkStatus] = mapped_column(
        Enum(ChunkStatus, native_enum=False, length=20), nullable=False, default=ChunkStatus.open
    )
    free_slots: Mapped[int] = mapped_column(Integer, nullable=False)
    accepted_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    rejected_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    #: Dynamic overlap: an extra chunk holds images that need one more answer, issued once; a normal
    #: chunk is issued the job's ``overlap`` times (NULL).
    overlap: Mapped[int | None] = mapped_column(Integer, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)

    __table_args__ = (
        UniqueConstraint("job_id", "position", name="uq_chunks_job_position"),
        Index("ix_chunks_job_status_position", "job_id", "status", "position"),
    )


class ChunkImage(Base):
    __tablename__ = "chunk_images"

    chunk_id: Mapped[int] = mapped_column(ForeignKey("chunks.id", ondelete="CASCADE"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    image_id: Mapped[int] = mapped_column(ForeignKey("job_images.id", ondelete="CASCADE"), nullable=False)

    __table_args__ = (Index("ix_chunk_images_image_id", "image_id"),)


class PendingAnswer(Base):
    """Dynamic overlap: a work image whose merged answer is below the job's confidence threshold and
    waits to be cut into an extra chunk (one more worker)."""

    __tablename__ = "pending_answers"

    image_id: Mapped[int] = mapped_column(ForeignKey("job_images.id", ondelete="CASCADE"), primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)

    __table_args__ = (Index("ix_pending_answers_job_id", "job_id"),)


class Assignment(TimestampMixin, Base):
    """One issue of a chunk to one worker, with the hidden GT images mixed in."""

    __tablename__ = "assignments"

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False)
    chunk_id: Mapped[int] = mapped_column(ForeignKey("chunks.id", ondelete="CASCADE"), nullable=False)
    worker_id: Mapped[int] = mapped_column(ForeignKey("users.id"), nullable=False)
    status: Mapped[AssignmentStatus] = mapped_column(
        Enum(AssignmentStatus, native_enum=False, length=20),
        nullable=False,
        default=AssignmentStatus.assigned,
    )
    slot: Mapped[AssignmentSlot] = mapped_column(
        Enum(AssignmentSlot, native_enum=False, length=10),
        nullable=False,
        default=AssignmentSlot.current,
        server_default=AssignmentSlot.current.value,
    )
    deadline: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    submission_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    score: Mapped[float | None] = mapped_column(Float, nullable=True)
    score_details: Mapped[Any] = mapped_column(JSON, nullable=True)

    __table_args__ = (
        # never the same chunk twice for one worker (expired or rejected included)
        UniqueConstraint("chunk_id", "worker_id", name="uq_assignments_chunk_worker"),
        # at most one current and one next (claimed-ahead) active assignment per worker per job
        CheckConstraint(SLOT_VALUES, name="slot"),
        Index(
            "uq_assignments_active_worker_job_slot",
            "job_id",
            "worker_id",
            "slot",
            unique=True,
            postgresql_where=text(ACTIVE_ASSIGNMENT),
            sqlite_where=text(ACTIVE_ASSIGNMENT),
        ),
        Index("ix_assignments_job_worker", "job_id", "worker_id"),
        Index("ix_assignments_status_deadline", "status", "deadline"),
        Index("ix_assignments_worker_id", "worker_id", "id"),
    )


class AssignmentItem(Base):
    """One image shown in an assignment, in display order, under an opaque random token."""

    __tablename__ = "assignment_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(
        ForeignKey("assignments.id", ondelete="CASCADE"), nullable=False
    )
    position: Mapped[int] = mapped_column(Integer, nullable=False)
    token: Mapped[str] = mapped_column(String(32), nullable=False, unique=True)
    image_id: Mapped[int] = mapped_column(ForeignKey("job_images.id", ondelete="CASCADE"), nullable=False)
    is_gt: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    answer: Mapped[Any] = mapped_column(JSON, nullable=True)
    interactions: Mapped[Any] = mapped_column(JSON, nullable=True)

    __table_args__ = (
        UniqueConstraint("assignment_id", "position", name="uq_assignment_items_assignment_position"),
        Index("ix_assignment_items_image_id", "image_id"),
    )


class GtImageStat(Base):
    """How often a GT image was mixed into assignments, and whether it is retired (never picked)."""

    __tablename__ = "gt_image_stats"

    image_id: Mapped[int] = mapped_column(ForeignKey("job_images.id", ondelete="CASCADE"), primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False)
    uses: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    retired_reason: Mapped[str | None] = mapped_column(Text, nullable=True)

    __table_args__ = (Index("ix_gt_image_stats_job_id", "job_id"),)


class JobWorkerBan(TimestampMixin, Base):
    """A worker stopped on a job (written by the quality engine or a reviewer): claims nothing there."""

    __tablename__ = "job_worker_bans"

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False)
    worker_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    reason: Mapped[str] = mapped_column(Text, nullable=False, default="")

    __table_args__ = (UniqueConstraint("job_id", "worker_id", name="uq_job_worker_bans_job_worker"),)
