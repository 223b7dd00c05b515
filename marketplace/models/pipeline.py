"""Multi-stage pipelines (issue 18): a job's work split into stages that items move through by status.

A :class:`Pipeline` groups its stages' jobs (``jobs.pipeline_id``; ``stage_index`` orders them,
``stage_kind`` says what each does). Every annotate stage is an ordinary job over the pipeline's
images with a subset of its labels, its own GT, pay and ledger line; the QA stage is a job without
chunks whose budget pays its reviewers per decided item. A :class:`PipelineItem` is one data image
of the pipeline; :class:`ItemStageWork` holds what each annotate stage made of it and who made it;
:class:`ItemIssue` is a QA worker's objection, sent back to that annotator; :class:`ItemEvent` is the
item's history. Items made of GT images (``is_check``) carry one known defect each and score the QA
workers (:class:`QaCheck`), as hidden GT scores annotators.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, Enum, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.models.base import Base, TimestampMixin, UTCDateTime, utcnow


class StageKind(StrEnum):
    annotate = "annotate"
    qa = "qa"


class PipelineStatus(StrEnum):
    annotating = "annotating"  # annotate stages at work
    reviewing = "reviewing"  # every annotate stage done: the QA stage at work
    completed = "completed"  # every item approved or discarded


class ItemStatus(StrEnum):
    """Where an item is (Dataloop's statuses, plus the holds a marketplace needs)."""

    annotating = "annotating"  # annotate stages not done yet
    completed = "completed"  # annotated, waiting for a QA worker
    reviewing = "reviewing"  # held by one QA worker until ``qa_deadline``
    issue_open = "issue_open"  # back with its annotators: at least one open issue
    for_review = "for_review"  # every issue fixed: back to the QA worker who raised them
    routed = "routed"  # a QA worker set a custom status (``route``): waits for that route's members
    approved = "approved"
    discarded = "discarded"


class IssueStatus(StrEnum):
    open = "open"  # with the annotator
    fixed = "fixed"  # the annotator says fixed; the QA worker approves or reopens
    resolved = "resolved"  # the item was approved (or discarded) after the fix


class Pipeline(TimestampMixin, Base):
    __tablename__ = "pipelines"

    id: Mapped[int] = mapped_column(primary_key=True)
    requester_id: Mapped[int] = mapped_column(ForeignKey("users.id"), nullable=False)
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    status: Mapped[PipelineStatus] = mapped_column(
        Enum(PipelineStatus, native_enum=False, length=20), nullable=False, default=PipelineStatus.annotating
    )
    #: The QA stage's team (user ids); null: any worker of the open crowd.
    qa_members: Mapped[list[int] | None] = mapped_column(JSON, nullable=True)
    #: Custom statuses of the QA stage, each routing an item to its own members:
    #: ``[{"status": "expert review", "members": [user ids]}]``; null: none.
    qa_routes: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)
    #: QA workers stopped on this pipeline: they missed too many of its injected defects.
    qa_banned: Mapped[list[int] | None] = mapped_column(JSON, nullable=True)
    #: Seconds a QA worker holds an item, and an annotator has to fix an issue before another
    #: annotator of the stage gets it.
    qa_time_limit_s: Mapped[int] = mapped_column(Integer, nullable=False)
    fix_time_limit_s: Mapped[int] = mapped_column(Integer, nullable=False)

    __table_args__ = (Index("ix_pipelines_requester_id", "requester_id"),)


class PipelineItem(Base):
    __tablename__ = "pipeline_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    pipeline_id: Mapped[int] = mapped_column(ForeignKey("pipelines.id", ondelete="CASCADE"), nullable=False)
    name: Mapped[str] = mapped_column(String(1024), nullable=False)
    status: Mapped[ItemStatus] = mapped_column(
        Enum(ItemStatus, native_enum=False, length=20), nullable=False, default=ItemStatus.annotating
    )
    #: A hidden QA check: a GT image whose objects carry one known defect (never shown as such).
    is_check: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    #: the check's defect: ``{"job_id", "object_index" (null: an object removed), "geometry"}``
    defect: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    #: The QA worker holding the item (``reviewing``), who raised its issues, or who decided it.
    qa_worker_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    qa_deadline: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    #: The custom status the item was routed to (a route of the QA stage): only that route's members
    #: review it, until they approve or discard it; null: the QA stage's own queue.
    route: Mapped[str | None] = mapped_column(String(40), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)

    __table_args__ = (
        UniqueConstraint("pipeline_id", "name", name="uq_pipeline_items_name"),
        Index("ix_pipeline_items_pipeline_status", "pipeline_id", "status"),
    )


class ItemStageWork(Base):
    """What one annotate stage made of one item: its objects and the worker they are credited to."""

    __tablename__ = "pipeline_item_work"

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("pipeline_items.id", ondelete="CASCADE"), nullable=False)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False)
    image_id: Mapped[int] = mapped_column(ForeignKey("job_images.id", ondelete="CASCADE"), nullable=False)
    annotator_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    #: ``[{"label", "geometry"}]`` in the stage job's answer format
    objects: Mapped[list[dict[str, Any]]] = mapped_column(JSON, nullable=False)

    __table_args__ = (UniqueConstraint("item_id", "job_id", name="uq_pipeline_item_work_stage"),)


class ItemIssue(TimestampMixin, Base):
    __tablename__ = "pipeline_issues"

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("pipeline_items.id", ondelete="CASCADE"), nullable=False)
    work_id: Mapped[int] = mapped_column(
        ForeignKey("pipeline_item_work.id", ondelete="CASCADE"), nullable=False
    )
    raised_by: Mapped[int] = mapped_column(ForeignKey("users.id"), nullable=False)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    status: Mapped[IssueStatus] = mapped_column(
        Enum(IssueStatus, native_enum=False, length=20), nullable=False, default=IssueStatus.open
    )
    #: the object it is about (its index in the stage's objects when raised), or null: a missing object
    object_index: Mapped[int | None] = mapped_column(Integer, nullable=True)
    #: where the QA worker pointed: the flagged object's geometry, or where a missing one is
    geometry: Mapped[Any] = mapped_column(JSON, nullable=True)
    comment: Mapped[str] = mapped_column(Text, nullable=False)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)

    __table_args__ = (
        Index("ix_pipeline_issues_item", "item_id"),
        Index("ix_pipeline_issues_assignee_status", "assignee_id", "status"),
    )


class ItemEvent(Base):
    """One step of an item's history: a status change, an issue raised, fixed or reopened."""

    __tablename__ = "pipeline_item_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("pipeline_items.id", ondelete="CASCADE"), nullable=False)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    event: Mapped[str] = mapped_column(String(40), nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False)
    note: Mapped[str] = mapped_column(Text, nullable=False, default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)

    __table_args__ = (Index("ix_pipeline_item_events_item", "item_id"),)


class QaCheck(Base):
    """One QA worker's decision on one hidden check: did they flag its defect?

    A QA worker who raised issues on a check sees it come back "for review" later, as a data item
    whose issues were fixed would (its defect repaired, their issues fixed): ``raised`` holds those
    issues as they see them, ``returns_at`` when it comes back (null: it does not, or no longer),
    ``held_until`` the end of their hold once it is back. One check item serves many QA workers at
    once, so this state is theirs, not the item's.
    """

    __tablename__ = "pipeline_qa_checks"

    id: Mapped[int] = mapped_column(primary_key=True)
    pipeline_id: Mapped[int] = mapped_column(ForeignKey("pipelines.id", ondelete="CASCADE"), nullable=False)
    item_id: Mapped[int] = mapped_column(ForeignKey("pipeline_items.id", ondelete="CASCADE"), nullable=False)
    worker_id: Mapped[int] = mapped_column(ForeignKey("users.id"), nullable=False)
    caught: Mapped[bool] = mapped_column(Boolean, nullable=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    #: ``[{"id", "stage_job_id", "object_index", "geometry", "comment", "assignee_id", "status",
    #: "due_at"}]``: the issues they raised on it (ids drawn from the issues' own sequence)
    raised: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)
    returns_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    held_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    __table_args__ = (
        UniqueConstraint("item_id", "worker_id", name="uq_pipeline_qa_checks_item_worker"),
        Index("ix_pipeline_qa_checks_pipeline_worker", "pipeline_id", "worker_id"),
        Index("ix_pipeline_qa_checks_worker_returns", "worker_id", "returns_at"),
    )
