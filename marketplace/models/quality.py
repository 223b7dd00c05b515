"""Quality engine and reviews: worker GT records, GT image ratings, conflicts, disputes, results.

* :class:`WorkerJobQuality` - one worker's record on one job's hidden GT (items seen/passed, the SPRT
  log-likelihood ratio and its decision) and how fast they work.
* :class:`WorkerAgreement` - how often one worker's answers matched items the others settled.
* :class:`GtImageQuality` - how often a GT image was *scored* and how often the worker passed it
  (``GtImageStat`` of the assignment server counts issues and holds the retired flag).
* :class:`ScoreConflict` - per GT item disagreements of a scored assignment (reviewers read them).
* :class:`Dispute` / :class:`DisputeEvent` - the reviewers' queue: one dispute per case with its
  history (who did what, when).
* :class:`JobResultFile` / :class:`JobNotice` - exported result files and what a requester is told
  about their job (e.g. why it was paused).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Enum, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.models.base import Base, TimestampMixin, UTCDateTime, utcnow


class DisputeKind(StrEnum):
    chunk_failed_max_attempts = "chunk_failed_max_attempts"
    appeal = "appeal"
    low_agreement = "low_agreement"
    suspicious_gt = "suspicious_gt"
    too_fast = "too_fast"
    ambiguous_stitch = "ambiguous_stitch"


class DisputeStatus(StrEnum):
    open = "open"
    decided = "decided"


OPEN_DISPUTE = "status = 'open'"


class WorkerJobQuality(Base):
    __tablename__ = "worker_job_quality"

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False)
    worker_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    gt_items: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    gt_passed: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    sprt_llr: Mapped[float] = mapped_column(Float, nullable=False, default=0.0)
    sprt_items: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    # marketplace.quality.sprt.Decision values: continue | ban | pass
    sprt_decision: Mapped[str] = mapped_column(String(10), nullable=False, default="continue")
    #: The chance that each GT slot of this worker's next assignment is GT (adaptive GT; 1.0 at first).
    gt_keep: Mapped[float] = mapped_column(Float, nullable=False, default=1.0, server_default="1.0")
    #: The worker's GT accuracy on other jobs whose requesters share it (None: no such history).
    prior_accuracy: Mapped[float | None] = mapped_column(Float, nullable=True)
    assignments_scored: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    assignments_accepted: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    items_timed: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    seconds_total: Mapped[float] = mapped_column(Float, nullable=False, default=0.0)
    too_fast_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    banned_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)

    __table_args__ = (UniqueConstraint("job_id", "worker_id", name="uq_worker_job_quality_job_worker"),)


class WorkerAgreement(Base):
    """How often a worker's answers matched settled items of a job (no GT involved): dynamic overlap's
    second source of a worker's accuracy (:func:`marketplace.quality.adaptive.agreements`). Its own
    table, so the scoring of one worker (which locks that worker's :class:`WorkerJobQuality`) can add
    to other workers' counts without lock cycles; rows are upserted in worker id order."""

    __tablename__ = "worker_agreement"

    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    worker_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    agreed: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    compared: Mapped[int] = mapped_column(Integer, nullable=False, default=0)


class GtImageQuality(Base):
    __tablename__ = "gt_image_quality"

    image_id: Mapped[int] = mapped_column(ForeignKey("job_images.id", ondelete="CASCADE"), primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False)
    uses: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    accepted: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)

    __table_args__ = (Index("ix_gt_image_quality_job_id", "job_id"),)


class ScoreConflict(Base):
    """One disagreement between the GT and a worker's answer on one GT item of an assignment."""

    __tablename__ = "score_conflicts"

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(
        ForeignKey("assignments.id", ondelete="CASCADE"), nullable=False
    )
    image_id: Mapped[int] = mapped_column(ForeignKey("job_images.id", ondelete="CASCADE"), nullable=False)
    kind: Mapped[str] = mapped_column(String(20), nullable=False)
    gt_index: Mapped[int | None] = mapped_column(Integer, nullable=True)
    submitted_index: Mapped[int | None] = mapped_column(Integer, nullable=True)
    similarity: Mapped[float | None] = mapped_column(Float, nullable=True)
    gt_label: Mapped[str | None] = mapped_column(String(200), nullable=True)
    submitted_label: Mapped[str | None] = mapped_column(String(200), nullable=True)

    __table_args__ = (
        Index("ix_score_conflicts_assignment_id", "assignment_id"),
        Index("ix_score_conflicts_image_id", "image_id"),
    )


class Dispute(TimestampMixin, Base):
    """One case for a reviewer. ``subject_key`` names the case (``assignment:12``, ``chunk:3``,
    ``gt_image:7``, ``image:44``, ``worker:9``); at most one *open* dispute per kind and subject."""

    __tablename__ = "disputes"

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False)
    kind: Mapped[DisputeKind] = mapped_column(Enum(DisputeKind, native_enum=False, length=40), nullable=False)
    subject_key: Mapped[str] = mapped_column(String(100), nullable=False)
    status: Mapped[DisputeStatus] = mapped_column(
        Enum(DisputeStatus, native_enum=False, length=10), nullable=False, default=DisputeStatus.open
    )
    assignment_id: Mapped[int | None] = mapped_column(
        ForeignKey("assignments.id", ondelete="CASCADE"), nullable=True
    )
    chunk_id: Mapped[int | None] = mapped_column(ForeignKey("chunks.id", ondelete="CASCADE"), nullable=True)
    image_id: Mapped[int | None] = mapped_column(
        ForeignKey("job_images.id", ondelete="CASCADE"), nullable=True
    )
    worker_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    opened_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    reason: Mapped[str] = mapped_column(Text, nullable=False, default="")
    details: Mapped[Any] = mapped_column(JSON, nullable=True)
    decision: Mapped[str | None] = mapped_column(String(40), nullable=True)
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)

    __table_args__ = (
        Index(
            "uq_disputes_open_kind_subject",
            "job_id",
            "kind",
            "subject_key",
            unique=True,
            postgresql_where=text(OPEN_DISPUTE),
            sqlite_where=text(OPEN_DISPUTE),
        ),
        Index("ix_disputes_status_kind", "status", "kind"),
        Index("ix_disputes_job_id", "job_id"),
        Index("ix_disputes_assignment_id", "assignment_id"),
        Index("ix_disputes_worker_id", "worker_id"),
    )


class DisputeEvent(Base):
    """The history of a dispute: opened, noted again, decided - with who (None: the system) and when."""

    __tablename__ = "dispute_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    dispute_id: Mapped[int] = mapped_column(ForeignKey("disputes.id", ondelete="CASCADE"), nullable=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    action: Mapped[str] = mapped_column(String(40), nullable=False)
    comment: Mapped[str] = mapped_column(Text, nullable=False, default="")
    data: Mapped[Any] = mapped_column(JSON, nullable=True)

    __table_args__ = (Index("ix_dispute_events_dispute_id", "dispute_id"),)


class JobResultFile(Base):
    """An exported result file of a job, stored under ``results/<job_id>/<name>``."""

    __tablename__ = "job_result_files"

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    storage_key: Mapped[str] = mapped_column(String(1024), nullable=False)
    content_type: Mapped[str] = mapped_column(String(100), nullable=False)
    size_bytes: Mapped[int] = mapped_column(Integer, nullable=False)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)

    __table_args__ = (UniqueConstraint("job_id", "name", name="uq_job_result_files_job_name"),)


class JobNotice(Base):
    """Something the requester should know about their job (e.g. paused: too little usable GT)."""

    __tablename__ = "job_notices"

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False)
    kind: Mapped[str] = mapped_column(String(40), nullable=False)
    message: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)

    __table_args__ = (Index("ix_job_notices_job_id", "job_id"),)
