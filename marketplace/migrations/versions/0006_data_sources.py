"""data sources: S3 prefixes a requester has proven to own (a token object written into them)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import marketplace.models.base

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "data_sources",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("uri", sa.String(length=1100), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("verified_at", marketplace.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", marketplace.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("owner_id", "uri", name="uq_data_sources_owner_uri"),
    )
    op.create_index("ix_data_sources_owner", "data_sources", ["owner_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_data_sources_owner", table_name="data_sources")
    op.drop_table("data_sources")
