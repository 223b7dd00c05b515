"""quality engine and reviews: worker GT records, GT ratings, conflicts, disputes, results

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 18:35:51.012379
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import marketplace.models.base

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "job_notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("created_at", marketplace.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name=op.f("fk_job_notices_job_id_jobs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_notices")),
    )
    op.create_index("ix_job_notices_job_id", "job_notices", ["job_id"], unique=False)
    op.create_table(
        "job_result_files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("storage_key", sa.String(length=1024), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", marketplace.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name=op.f("fk_job_result_files_job_id_jobs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_result_files")),
        sa.UniqueConstraint("job_id", "name", name="uq_job_result_files_job_name"),
    )
    op.create_table(
        "worker_job_quality",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("worker_id", sa.Integer(), nullable=False),
        sa.Column("gt_items", sa.Integer(), nullable=False),
        sa.Column("gt_passed", sa.Integer(), nullable=False),
        sa.Column("sprt_llr", sa.Float(), nullable=False),
        sa.Column("sprt_items", sa.Integer(), nullable=False),
        sa.Column("sprt_decision", sa.String(length=10), nullable=False),
        sa.Column("assignments_scored", sa.Integer(), nullable=False),
        sa.Column("assignments_accepted", sa.Integer(), nullable=False),
        sa.Column("items_timed", sa.Integer(), nullable=False),
        sa.Column("seconds_total", sa.Float(), nullable=False),
        sa.Column("too_fast_count", sa.Integer(), nullable=False),
        sa.Column("banned_at", marketplace.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", marketplace.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name=op.f("fk_worker_job_quality_job_id_jobs"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["worker_id"],
            ["users.id"],
            name=op.f("fk_worker_job_quality_worker_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_worker_job_quality")),
        sa.UniqueConstraint("job_id", "worker_id", name="uq_worker_job_quality_job_worker"),
    )
    op.create_table(
        "gt_image_quality",
        sa.Column("image_id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("uses", sa.Integer(), nullable=False),
        sa.Column("accepted", sa.Integer(), nullable=False),
        sa.Column("updated_at", marketplace.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["image_id"],
            ["job_images.id"],
            name=op.f("fk_gt_image_quality_image_id_job_images"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name=op.f("fk_gt_image_quality_job_id_jobs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("image_id", name=op.f("pk_gt_image_quality")),
    )
    op.create_index("ix_gt_image_quality_job_id", "gt_image_quality", ["job_id"], unique=False)
    op.create_table(
        "disputes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "chunk_failed_max_attempts",
                "appeal",
                "low_agreement",
                "suspicious_gt",
                "too_fast",
                name="disputekind",
                native_enum=False,
                length=40,
            ),
            nullable=False,
        ),
        sa.Column("subject_key", sa.String(length=100), nullable=False),
        sa.Column(
            "status",
            sa.Enum("open", "decided", name="disputestatus", native_enum=False, length=10),
            nullable=False,
        ),
        sa.Column("assignment_id", sa.Integer(), nullable=True),
        sa.Column("chunk_id", sa.Integer(), nullable=True),
        sa.Column("image_id", sa.Integer(), nullable=True),
        sa.Column("worker_id", sa.Integer(), nullable=True),
        sa.Column("opened_by", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=True),
        sa.Column("decision", sa.String(length=40), nullable=True),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("decided_at", marketplace.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", marketplace.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", marketplace.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["assignment_id"],
            ["assignments.id"],
            name=op.f("fk_disputes_assignment_id_assignments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["chunk_id"], ["chunks.id"], name=op.f("fk_disputes_chunk_id_chunks"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["decided_by"], ["users.id"], name=op.f("fk_disputes_decided_by_users")),
        sa.ForeignKeyConstraint(
            ["image_id"], ["job_images.id"], name=op.f("fk_disputes_image_id_job_images"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name=op.f("fk_disputes_job_id_jobs"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["opened_by"], ["users.id"], name=op.f("fk_disputes_opened_by_users")),
        sa.ForeignKeyConstraint(["worker_id"], ["users.id"], name=op.f("fk_disputes_worker_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_disputes")),
    )
    op.create_index("ix_disputes_assignment_id", "disputes", ["assignment_id"], unique=False)
    op.create_index("ix_disputes_job_id", "disputes", ["job_id"], unique=False)
    op.create_index("ix_disputes_status_kind", "disputes", ["status", "kind"], unique=False)
    op.create_index("ix_disputes_worker_id", "disputes", ["worker_id"], unique=False)
    op.create_index(
        "uq_disputes_open_kind_subject",
        "disputes",
        ["job_id", "kind", "subject_key"],
        unique=True,
        postgresql_where=sa.text("status = 'open'"),
        sqlite_where=sa.text("status = 'open'"),
    )
    op.create_table(
        "score_conflicts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("assignment_id", sa.Integer(), nullable=False),
        sa.Column("image_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("gt_index", sa.Integer(), nullable=True),
        sa.Column("submitted_index", sa.Integer(), nullable=True),
        sa.Column("similarity", sa.Float(), nullable=True),
        sa.Column("gt_label", sa.String(length=200), nullable=True),
        sa.Column("submitted_label", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["assignment_id"],
            ["assignments.id"],
            name=op.f("fk_score_conflicts_assignment_id_assignments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["image_id"],
            ["job_images.id"],
            name=op.f("fk_score_conflicts_image_id_job_images"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_score_conflicts")),
    )
    op.create_index("ix_score_conflicts_assignment_id", "score_conflicts", ["assignment_id"], unique=False)
    op.create_index("ix_score_conflicts_image_id", "score_conflicts", ["image_id"], unique=False)
    op.create_table(
        "dispute_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dispute_id", sa.Integer(), nullable=False),
        sa.Column("at", marketplace.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(["actor_id"], ["users.id"], name=op.f("fk_dispute_events_actor_id_users")),
        sa.ForeignKeyConstraint(
            ["dispute_id"],
            ["disputes.id"],
            name=op.f("fk_dispute_events_dispute_id_disputes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dispute_events")),
    )
    op.create_index("ix_dispute_events_dispute_id", "dispute_events", ["dispute_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_dispute_events_dispute_id", table_name="dispute_events")
    op.drop_table("dispute_events")
    op.drop_index("ix_score_conflicts_image_id", table_name="score_conflicts")
    op.drop_index("ix_score_conflicts_assignment_id", table_name="score_conflicts")
    op.drop_table("score_conflicts")
    op.drop_index(
        "uq_disputes_open_kind_subject",
        table_name="disputes",
        postgresql_where=sa.text("status = 'open'"),
        sqlite_where=sa.text("status = 'open'"),
    )
    op.drop_index("ix_disputes_worker_id", table_name="disputes")
    op.drop_index("ix_disputes_status_kind", table_name="disputes")
    op.drop_index("ix_disputes_job_id", table_name="disputes")
    op.drop_index("ix_disputes_assignment_id", table_name="disputes")
    op.drop_table("disputes")
    op.drop_index("ix_gt_image_quality_job_id", table_name="gt_image_quality")
    op.drop_table("gt_image_quality")
    op.drop_table("worker_job_quality")
    op.drop_table("job_result_files")
    op.drop_index("ix_job_notices_job_id", table_name="job_notices")
    op.drop_table("job_notices")
