"""multi-stage pipelines: pipelines, their items, per-stage work, issues and history; jobs as stages

Revision ID: 0013_pipelines
Revises: 0012_video_gt
Create Date: 2026-12-03 11:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from marketplace.models.base import UTCDateTime

revision: str = "0013_pipelines"
down_revision: str | None = "0012_video_gt"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ITEM_STATUS = sa.Enum(
    "annotating",
    "completed",
    "reviewing",
    "issue_open",
    "for_review",
    "approved",
    "discarded",
    name="itemstatus",
    native_enum=False,
    length=20,
)


def upgrade() -> None:
    op.create_table(
        "pipelines",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("requester_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "annotating", "reviewing", "completed", name="pipelinestatus", native_enum=False, length=20
            ),
            nullable=False,
        ),
        sa.Column("qa_members", sa.JSON(), nullable=True),
        sa.Column("qa_banned", sa.JSON(), nullable=True),
        sa.Column("qa_time_limit_s", sa.Integer(), nullable=False),
        sa.Column("fix_time_limit_s", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_pipelines_requester_id", "pipelines", ["requester_id"])
    with op.batch_alter_table("jobs") as batch:  # SQLite: a foreign key needs the table rebuilt
        batch.add_column(sa.Column("pipeline_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("stage_index", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("stage_kind", sa.String(10), nullable=True))
        batch.create_foreign_key("fk_jobs_pipeline_id", "pipelines", ["pipeline_id"], ["id"])
        batch.create_index("ix_jobs_pipeline_id", ["pipeline_id"])
    op.create_table(
        "pipeline_items",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "pipeline_id", sa.Integer(), sa.ForeignKey("pipelines.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("name", sa.String(1024), nullable=False),
        sa.Column("status", ITEM_STATUS, nullable=False),
        sa.Column("is_check", sa.Boolean(), nullable=False),
        sa.Column("defect", sa.JSON(), nullable=True),
        sa.Column("qa_worker_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("qa_deadline", UTCDateTime(), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("pipeline_id", "name", name="uq_pipeline_items_name"),
    )
    op.create_index("ix_pipeline_items_pipeline_status", "pipeline_items", ["pipeline_id", "status"])
    op.create_table(
        "pipeline_item_work",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "item_id", sa.Integer(), sa.ForeignKey("pipeline_items.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("job_id", sa.Integer(), sa.ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False),
        sa.Column(
            "image_id", sa.Integer(), sa.ForeignKey("job_images.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("annotator_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("objects", sa.JSON(), nullable=False),
        sa.UniqueConstraint("item_id", "job_id", name="uq_pipeline_item_work_stage"),
    )
    op.create_table(
        "pipeline_issues",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "item_id", sa.Integer(), sa.ForeignKey("pipeline_items.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column(
            "work_id",
            sa.Integer(),
            sa.ForeignKey("pipeline_item_work.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("raised_by", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("assignee_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column(
            "status",
            sa.Enum("open", "fixed", "resolved", name="issuestatus", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("object_index", sa.Integer(), nullable=True),
        sa.Column("geometry", sa.JSON(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("due_at", UTCDateTime(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_pipeline_issues_item", "pipeline_issues", ["item_id"])
    op.create_index("ix_pipeline_issues_assignee_status", "pipeline_issues", ["assignee_id", "status"])
    op.create_table(
        "pipeline_item_events",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "item_id", sa.Integer(), sa.ForeignKey("pipeline_items.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("actor_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("event", sa.String(40), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_pipeline_item_events_item", "pipeline_item_events", ["item_id"])
    op.create_table(
        "pipeline_qa_checks",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "pipeline_id", sa.Integer(), sa.ForeignKey("pipelines.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column(
            "item_id", sa.Integer(), sa.ForeignKey("pipeline_items.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("worker_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("caught", sa.Boolean(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("item_id", "worker_id", name="uq_pipeline_qa_checks_item_worker"),
    )
    op.create_index(
        "ix_pipeline_qa_checks_pipeline_worker", "pipeline_qa_checks", ["pipeline_id", "worker_id"]
    )


def downgrade() -> None:
    op.drop_table("pipeline_qa_checks")
    op.drop_table("pipeline_item_events")
    op.drop_table("pipeline_issues")
    op.drop_table("pipeline_item_work")
    op.drop_table("pipeline_items")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_index("ix_jobs_pipeline_id")
        batch.drop_constraint("fk_jobs_pipeline_id", type_="foreignkey")
        batch.drop_column("stage_kind")
        batch.drop_column("stage_index")
        batch.drop_column("pipeline_id")
    op.drop_table("pipelines")
