"""Adaptive GT: jobs.gt_spot_check (a trusted worker's GT rate) and worker_job_quality.gt_keep

Revision ID: 0010
Revises: 0007
Create Date: 2026-12-02 13:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # existing jobs keep fixed GT (1.0); new ones get the request's value (default 0.25)
    op.add_column("jobs", sa.Column("gt_spot_check", sa.Float(), nullable=False, server_default="1.0"))
    op.add_column(
        "worker_job_quality", sa.Column("gt_keep", sa.Float(), nullable=False, server_default="1.0")
    )


def downgrade() -> None:
    op.drop_column("worker_job_quality", "gt_keep")
    op.drop_column("jobs", "gt_spot_check")
