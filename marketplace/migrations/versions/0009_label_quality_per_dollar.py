"""Label quality per dollar: adaptive GT (jobs.gt_spot_check, worker_job_quality.gt_keep) and dynamic
overlap (jobs.max_overlap, jobs.confidence_threshold, chunks.overlap, pending_answers), reliability
shared across jobs (jobs.share_reliability, worker_job_quality.prior_accuracy)

Revision ID: 0009
Revises: 0008_media_renditions
Create Date: 2026-12-02 13:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import marketplace.models.base

revision: str = "0009"
down_revision: str | None = "0008_media_renditions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # existing jobs keep fixed GT (1.0) and no dynamic overlap; new ones get the request's values
    op.add_column("jobs", sa.Column("gt_spot_check", sa.Float(), nullable=False, server_default="1.0"))
    op.add_column("jobs", sa.Column("max_overlap", sa.Integer(), nullable=True))
    op.add_column(
        "jobs", sa.Column("confidence_threshold", sa.Float(), nullable=False, server_default="0.85")
    )
    op.add_column(
        "worker_job_quality", sa.Column("gt_keep", sa.Float(), nullable=False, server_default="1.0")
    )
    op.add_column("worker_job_quality", sa.Column("prior_accuracy", sa.Float(), nullable=True))
    op.add_column(
        "jobs", sa.Column("share_reliability", sa.Boolean(), nullable=False, server_default=sa.false())
    )
    op.add_column("chunks", sa.Column("overlap", sa.Integer(), nullable=True))
    op.create_table(
        "pending_answers",
        sa.Column("image_id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("created_at", marketplace.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["image_id"], ["job_images.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("image_id"),
    )
    op.create_index("ix_pending_answers_job_id", "pending_answers", ["job_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_pending_answers_job_id", table_name="pending_answers")
    op.drop_table("pending_answers")
    op.drop_column("chunks", "overlap")
    op.drop_column("jobs", "share_reliability")
    op.drop_column("worker_job_quality", "prior_accuracy")
    op.drop_column("worker_job_quality", "gt_keep")
    op.drop_column("jobs", "confidence_threshold")
    op.drop_column("jobs", "max_overlap")
    op.drop_column("jobs", "gt_spot_check")
