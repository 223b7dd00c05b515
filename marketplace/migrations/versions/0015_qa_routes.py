"""custom QA statuses that route items to their own members: pipelines.qa_routes, pipeline_items.route

Revision ID: 0015_qa_routes
Revises: 0014_stage_teams
Create Date: 2026-12-03 14:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_qa_routes"
down_revision: str | None = "0014_stage_teams"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # (the item status "routed" needs no DDL: statuses are strings without a CHECK constraint)
    op.add_column("pipelines", sa.Column("qa_routes", sa.JSON(), nullable=True))
    op.add_column("pipeline_items", sa.Column("route", sa.String(40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("pipeline_items") as batch:
        batch.drop_column("route")
    with op.batch_alter_table("pipelines") as batch:
        batch.drop_column("qa_routes")
