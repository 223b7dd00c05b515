"""assignments: chunks, assignments, items, GT image stats, job bans

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 18:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import marketplace.models.base

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTIVE = "status = 'assigned'"


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, marketplace.models.base.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "chunks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum("open", "full", "done", "in_review", name="chunkstatus", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("free_slots", sa.Integer(), nullable=False),
        sa.Column("accepted_count", sa.Integer(), nullable=False),
        sa.Column("rejected_count", sa.Integer(), nullable=False),
        _ts("updated_at"),
        _ts("created_at"),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name=op.f("fk_chunks_job_id_jobs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chunks")),
        sa.UniqueConstraint("job_id", "position", name="uq_chunks_job_position"),
    )
    with op.batch_alter_table("chunks", schema=None) as batch_op:
        batch_op.create_index("ix_chunks_job_status_position", ["job_id", "status", "position"], unique=False)

    op.create_table(
        "chunk_images",
        sa.Column("chunk_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("image_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["chunk_id"], ["chunks.id"], name=op.f("fk_chunk_images_chunk_id_chunks"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["image_id"],
            ["job_images.id"],
            name=op.f("fk_chunk_images_image_id_job_images"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("chunk_id", "position", name=op.f("pk_chunk_images")),
    )
    with op.batch_alter_table("chunk_images", schema=None) as batch_op:
        batch_op.create_index("ix_chunk_images_image_id", ["image_id"], unique=False)

    op.create_table(
        "assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("chunk_id", sa.Integer(), nullable=False),
        sa.Column("worker_id", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "assigned",
                "submitted",
                "accepted",
                "rejected",
                "expired",
                name="assignmentstatus",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        _ts("deadline"),
        _ts("submitted_at", nullable=True),
        _ts("finished_at", nullable=True),
        sa.Column("submission_hash", sa.String(length=64), nullable=True),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("score_details", sa.JSON(), nullable=True),
        _ts("created_at"),
        sa.ForeignKeyConstraint(
            ["chunk_id"], ["chunks.id"], name=op.f("fk_assignments_chunk_id_chunks"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name=op.f("fk_assignments_job_id_jobs"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["worker_id"], ["users.id"], name=op.f("fk_assignments_worker_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assignments")),
        sa.UniqueConstraint("chunk_id", "worker_id", name="uq_assignments_chunk_worker"),
    )
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.create_index("ix_assignments_job_worker", ["job_id", "worker_id"], unique=False)
        batch_op.create_index("ix_assignments_status_deadline", ["status", "deadline"], unique=False)
        batch_op.create_index("ix_assignments_worker_id", ["worker_id", "id"], unique=False)
        batch_op.create_index(
            "uq_assignments_active_worker_job",
            ["job_id", "worker_id"],
            unique=True,
            postgresql_where=sa.text(ACTIVE),
            sqlite_where=sa.text(ACTIVE),
        )

    op.create_table(
        "assignment_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("assignment_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=32), nullable=False),
        sa.Column("image_id", sa.Integer(), nullable=False),
        sa.Column("is_gt", sa.Boolean(), nullable=False),
        sa.Column("answer", sa.JSON(), nullable=True),
        sa.Column("interactions", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["assignment_id"],
            ["assignments.id"],
            name=op.f("fk_assignment_items_assignment_id_assignments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["image_id"],
            ["job_images.id"],
            name=op.f("fk_assignment_items_image_id_job_images"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assignment_items")),
        sa.UniqueConstraint("assignment_id", "position", name="uq_assignment_items_assignment_position"),
        sa.UniqueConstraint("token", name=op.f("uq_assignment_items_token")),
    )
    with op.batch_alter_table("assignment_items", schema=None) as batch_op:
        batch_op.create_index("ix_assignment_items_image_id", ["image_id"], unique=False)

    op.create_table(
        "gt_image_stats",
        sa.Column("image_id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("uses", sa.Integer(), nullable=False),
        _ts("retired_at", nullable=True),
        sa.Column("retired_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["image_id"],
            ["job_images.id"],
            name=op.f("fk_gt_image_stats_image_id_job_images"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name=op.f("fk_gt_image_stats_job_id_jobs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("image_id", name=op.f("pk_gt_image_stats")),
    )
    with op.batch_alter_table("gt_image_stats", schema=None) as batch_op:
        batch_op.create_index("ix_gt_image_stats_job_id", ["job_id"], unique=False)

    op.create_table(
        "job_worker_bans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("worker_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        _ts("created_at"),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name=op.f("fk_job_worker_bans_job_id_jobs"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["worker_id"], ["users.id"], name=op.f("fk_job_worker_bans_worker_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_worker_bans")),
        sa.UniqueConstraint("job_id", "worker_id", name="uq_job_worker_bans_job_worker"),
    )


def downgrade() -> None:
    op.drop_table("job_worker_bans")
    with op.batch_alter_table("gt_image_stats", schema=None) as batch_op:
        batch_op.drop_index("ix_gt_image_stats_job_id")
    op.drop_table("gt_image_stats")
    with op.batch_alter_table("assignment_items", schema=None) as batch_op:
        batch_op.drop_index("ix_assignment_items_image_id")
    op.drop_table("assignment_items")
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.drop_index("uq_assignments_active_worker_job")
        batch_op.drop_index("ix_assignments_worker_id")
        batch_op.drop_index("ix_assignments_status_deadline")
        batch_op.drop_index("ix_assignments_job_worker")
    op.drop_table("assignments")
    with op.batch_alter_table("chunk_images", schema=None) as batch_op:
        batch_op.drop_index("ix_chunk_images_image_id")
    op.drop_table("chunk_images")
    with op.batch_alter_table("chunks", schema=None) as batch_op:
        batch_op.drop_index("ix_chunks_job_status_position")
    op.drop_table("chunks")
