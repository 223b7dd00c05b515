"""media_renditions: the serving rendition of every job image; jobs.ingested_count, jobs.ingest_errors

Revision ID: 0008_media_renditions
Revises: 0007
Create Date: 2026-12-02 13:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from marketplace.models.base import UTCDateTime

revision: str = "0008_media_renditions"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "media_renditions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("image_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("scale", sa.Float(), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["image_id"],
            ["job_images.id"],
            name=op.f("fk_media_renditions_image_id_job_images"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name=op.f("fk_media_renditions_job_id_jobs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_media_renditions")),
        sa.UniqueConstraint("image_id", name="uq_media_renditions_image_id"),
    )
    with op.batch_alter_table("media_renditions", schema=None) as batch_op:
        batch_op.create_index("ix_media_renditions_job_id", ["job_id"], unique=False)
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ingested_count", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("ingest_errors", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_column("ingest_errors")
        batch_op.drop_column("ingested_count")
    with op.batch_alter_table("media_renditions", schema=None) as batch_op:
        batch_op.drop_index("ix_media_renditions_job_id")
    op.drop_table("media_renditions")
