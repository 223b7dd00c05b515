"""annotate stages in sequence: jobs.after_job_id, job_images.context (chunks may be 'waiting')

Revision ID: 0018_stage_sequence
Revises: 0017_check_returns
Create Date: 2026-12-03 17:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018_stage_sequence"
down_revision: str | None = "0017_check_returns"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("after_job_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_jobs_after_job_id", "jobs", ["after_job_id"], ["id"])
    with op.batch_alter_table("job_images") as batch:
        batch.add_column(sa.Column("context", sa.JSON(none_as_null=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("job_images") as batch:
        batch.drop_column("context")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_constraint("fk_jobs_after_job_id", type_="foreignkey")
        batch.drop_column("after_job_id")
