"""worker_agreement: workers' answers checked against settled items (dynamic overlap); confidence_threshold
defaults to 0.83

Revision ID: 0016_agreement
Revises: 0015_qa_routes
Create Date: 2026-12-03 14:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_agreement"
down_revision: str | None = "0015_qa_routes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "worker_agreement",
        sa.Column("job_id", sa.Integer(), sa.ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("worker_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("agreed", sa.Integer(), nullable=False),
        sa.Column("compared", sa.Integer(), nullable=False),
    )
    with op.batch_alter_table("jobs") as batch:
        batch.alter_column("confidence_threshold", server_default="0.83")


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.alter_column("confidence_threshold", server_default="0.85")
    op.drop_table("worker_agreement")
