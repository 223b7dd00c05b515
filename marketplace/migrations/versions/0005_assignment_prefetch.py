"""assignment prefetch: a worker may hold a current and a claimed-ahead ("next") assignment per job

Adds ``assignments.slot`` ('current' | 'next'), and replaces the partial unique index "one active
assignment per (job, worker)" with "one active assignment per (job, worker, slot)".

Downgrade: the old index allows one active assignment per worker and job, so claimed-ahead ones are
first given back to the pool (expired, their chunk's slot freed), then the column goes.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTIVE = "status = 'assigned'"


def upgrade() -> None:
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("slot", sa.String(length=10), nullable=False, server_default="current"))
        batch_op.create_check_constraint(op.f("ck_assignments_slot"), "slot IN ('current', 'next')")
        batch_op.drop_index("uq_assignments_active_worker_job")
        batch_op.create_index(
            "uq_assignments_active_worker_job_slot",
            ["job_id", "worker_id", "slot"],
            unique=True,
            postgresql_where=sa.text(ACTIVE),
            sqlite_where=sa.text(ACTIVE),
        )


def downgrade() -> None:
    ahead = "FROM assignments a WHERE a.chunk_id = chunks.id AND a.status = 'assigned' AND a.slot = 'next'"
    op.execute(
        f"UPDATE chunks SET free_slots = free_slots + (SELECT count(*) {ahead}), "
        "status = CASE WHEN status = 'full' THEN 'open' ELSE status END "
        f"WHERE EXISTS (SELECT 1 {ahead})"
    )
    op.execute(
        "UPDATE assignments SET status = 'expired', finished_at = CURRENT_TIMESTAMP "
        "WHERE status = 'assigned' AND slot = 'next'"
    )
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.drop_index("uq_assignments_active_worker_job_slot")
        batch_op.drop_constraint(op.f("ck_assignments_slot"), type_="check")
        batch_op.drop_column("slot")
        batch_op.create_index(
            "uq_assignments_active_worker_job",
            ["job_id", "worker_id"],
            unique=True,
            postgresql_where=sa.text(ACTIVE),
            sqlite_where=sa.text(ACTIVE),
        )
