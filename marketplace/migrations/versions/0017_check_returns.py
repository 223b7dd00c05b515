"""pipeline_qa_checks: a hidden check a QA worker raised issues on comes back to them "for review"

Revision ID: 0017_check_returns
Revises: 0016_agreement
Create Date: 2026-12-03 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from marketplace.models.base import UTCDateTime

revision: str = "0017_check_returns"
down_revision: str | None = "0016_agreement"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("pipeline_qa_checks") as batch:
        batch.add_column(sa.Column("raised", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("returns_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("held_until", UTCDateTime(), nullable=True))
    op.create_index("ix_pipeline_qa_checks_worker_returns", "pipeline_qa_checks", ["worker_id", "returns_at"])


def downgrade() -> None:
    op.drop_index("ix_pipeline_qa_checks_worker_returns", "pipeline_qa_checks")
    with op.batch_alter_table("pipeline_qa_checks") as batch:
        batch.drop_column("held_until")
        batch.drop_column("returns_at")
        batch.drop_column("raised")
