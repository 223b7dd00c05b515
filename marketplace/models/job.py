from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.models.base import Amount, Base, TimestampMixin, UTCDateTime, utcnow
from marketplace.models.enums import VIDEO_TYPES, JobStatus, JobType, Rail

#: Dynamic overlap's default confidence threshold: on the real crowd replay (benchmarks/cost.py) 0.83
#: matches overlap 3's accuracy at 0.7 of its cost (0.85: 0.4 points more accurate, 0.73 of the cost).
DEFAULT_CONFIDENCE_THRESHOLD = 0.83


class Job(TimestampMixin, Base):
    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    requester_id: Mapped[int] = mapped_column(ForeignKey("users.id"), nullable=False)
    type: Mapped[JobType] = mapped_column(Enum(JobType, native_enum=False, length=20), nullable=False)
    status: Mapped[JobStatus] = mapped_column(
        Enum(JobStatus, native_enum=False, length=20), nullable=False, default=JobStatus.draft
    )
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    labels: Mapped[list[str]] = mapped_column(JSON, nullable=False)
    data_uri: Mapped[str] = mapped_column(String(1024), nullable=False)
    guide_url: Mapped[str | None] = mapped_column(String(1024), nullable=True)

    accuracy_target: Mapped[float] = mapped_column(Float, nullable=False)
    iou_threshold: Mapped[float] = mapped_column(Float, nullable=False)
    point_tolerance: Mapped[float] = mapped_column(Float, nullable=False)
    #: Classification: ``cost[t][d]`` of deciding label ``d`` when the truth is ``t`` (None: 0/1 costs).
    cost_matrix: Mapped[list[list[float]] | None] = mapped_column(JSON, nullable=True)
    #: Per-object attributes (``[{"name", "kind", "values"}]``, see marketplace.jobs.attributes).
    attributes: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)

    bounty_amount: Mapped[int] = mapped_column(Amount(), nullable=False)
    currency: Mapped[str] = mapped_column(String(64), nullable=False)
    rail: Mapped[Rail] = mapped_column(Enum(Rail, native_enum=False, length=10), nullable=False)

    assignment_size: Mapped[int] = mapped_column(Integer, nullable=False)
    gt_per_assignment: Mapped[int] = mapped_column(Integer, nullable=False)
    #: Adaptive GT: the chance that a GT slot of a worker the SPRT trusts stays GT (1.0: fixed GT).
    gt_spot_check: Mapped[float] = mapped_column(Float, nullable=False, default=1.0, server_default="1.0")
    time_limit_s: Mapped[int] = mapped_column(Integer, nullable=False)
    overlap: Mapped[int] = mapped_column(Integer, nullable=False)
    #: Dynamic overlap: an image whose merged confidence stays below ``confidence_threshold`` goes to
    #: one more worker, up to ``max_overlap`` answers (NULL: ``overlap``, no dynamic overlap).
    max_overlap: Mapped[int | None] = mapped_column(Integer, nullable=True)
    #: The requester lets what workers showed on this job's GT inform other jobs (a prior for their
    #: SPRT and merge weights there); nothing else of the job is shared.
    share_reliability: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=False, server_default=false()
    )
    confidence_threshold: Mapped[float] = mapped_column(
        Float,
        nullable=False,
        default=DEFAULT_CONFIDENCE_THRESHOLD,
        server_default=str(DEFAULT_CONFIDENCE_THRESHOLD),
    )
    max_attempts: Mapped[int] = mapped_column(Integer, nullable=False)
    #: Video jobs: frames per segment (the unit of assignment), frames shared by neighbouring
    #: segments, and how many segments the job's videos make (fixed when the job is created)
    segment_frames: Mapped[int | None] = mapped_column(Integer, nullable=True)
    segment_overlap: Mapped[int | None] = mapped_column(Integer, nullable=True)
    segment_count: Mapped[int | None] = mapped_column(Integer, nullable=True)
    #: Video jobs: the IDF1 a segment's tracks must reach on its GT frames (identity, beside the
    #: per-frame accuracy target)
    idf1_target: Mapped[float | None] = mapped_column(Float, nullable=True)

    image_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    gt_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    #: Activation: images made into serving renditions so far, and the files that could not be
    #: (``[{"name", "reason"}]``; set when the activation failed on them).
    ingested_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    ingest_errors: Mapped[list[dict[str, str]] | None] = mapped_column(JSON, nullable=True)
    #: Multi-stage pipelines (:mod:`marketplace.models.pipeline`): the pipeline this job is a stage of,
    #: its place and kind there (``annotate`` or ``qa``); null for a job on its own.
    pipeline_id: Mapped[int | None] = mapped_column(ForeignKey("pipelines.id"), nullable=True)
    stage_index: Mapped[int | None] = mapped_column(Integer, nullable=True)
    stage_kind: Mapped[str | None] = mapped_column(String(10), nullable=True)
    #: A named team (user ids of worker accounts): only they may see and claim the job's assignments;
    #: null (SQL NULL, never JSON null) for the open crowd. Checked inside the claim's own SQL.
    members: Mapped[list[int] | None] = mapped_column(JSON(none_as_null=True), nullable=True)
    #: A pipeline's annotate stages in sequence: the stage before this one (its job). This job's chunks
    #: wait until their images are done there, and its images carry the earlier stages' objects
    #: (``JobImage.context``); null: the job opens all its chunks at once.
    after_job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id"), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)

    __table_args__ = (
        Index("ix_jobs_requester_id", "requester_id"),
        Index("ix_jobs_status", "status"),
        Index("ix_jobs_pipeline_id", "pipeline_id"),
    )

    @property
    def is_video(self) -> bool:
        return self.type in VIDEO_TYPES

    @property
    def work_units(self) -> tuple[int, int]:
        """``(units of work, units per assignment)`` the budget is cut by: non-GT images and
        ``assignment_size``, or a video job's segments, one per assignment."""
        if self.is_video:
            return self.segment_count or 0, 1
        return self.image_count - self.gt_count, self.assignment_size

    @property
    def overlap_cap(self) -> int:
        """The most answers an image gets: ``max_overlap`` with dynamic overlap, else ``overlap``."""
        return max(self.overlap, self.max_overlap or self.overlap)


class JobImage(Base):
    """One image of a job's data. ``is_gt`` is never exposed to workers."""

    __tablename__ = "job_images"

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False)
    name: Mapped[str] = mapped_column(String(1024), nullable=False)
    width: Mapped[int] = mapped_column(Integer, nullable=False)
    height: Mapped[int] = mapped_column(Integer, nullable=False)
    size_bytes: Mapped[int] = mapped_column(Integer, nullable=False)
    is_gt: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    #: What a pipeline's earlier annotate stages made of this image, shown read-only to this stage's
    #: workers: ``[{"label", "geometry"}]`` (null: nothing to show). Written the same way for GT and
    #: data images (the crowd's merged answers), so it never tells them apart.
    context: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON(none_as_null=True), nullable=True)

    __table_args__ = (UniqueConstraint("job_id", "name", name="uq_job_images_job_name"),)


class GtAnnotation(Base):
    """A requester's ground-truth answer on a GT image.

    ``geometry`` is ``[x, y, w, h]`` for boxes, ``[x, y]`` for points and null for classification.
    """

    __tablename__ = "gt_annotations"

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False)
    image_id: Mapped[int] = mapped_column(ForeignKey("job_images.id", ondelete="CASCADE"), nullable=False)
    label: Mapped[str] = mapped_column(String(200), nullable=False)
    geometry: Mapped[Any] = mapped_column(JSON, nullable=True)

    __table_args__ = (
        Index("ix_gt_annotations_image_id", "image_id"),
        Index("ix_gt_annotations_job_id", "job_id"),
    )
