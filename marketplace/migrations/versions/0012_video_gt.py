"""video GT: job_videos.gt_frames/gt_tracks, jobs.idf1_target

Revision ID: 0012_video_gt
Revises: 0011_video
Create Date: 2026-12-02 22:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_video_gt"
down_revision: str | None = "0011_video"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("job_videos", sa.Column("gt_frames", sa.JSON(), nullable=True))
    op.add_column("job_videos", sa.Column("gt_tracks", sa.JSON(), nullable=True))
    op.add_column("jobs", sa.Column("idf1_target", sa.Float(), nullable=True))


def downgrade() -> None:
    op.drop_column("jobs", "idf1_target")
    op.drop_column("job_videos", "gt_tracks")
    op.drop_column("job_videos", "gt_frames")
