"""video jobs: job_videos, video_segments, jobs.segment_frames/segment_overlap/segment_count

Revision ID: 0011_video
Revises: 0010_object_attributes
Create Date: 2026-12-02 18:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_video"
down_revision: str | None = "0010_object_attributes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("jobs", sa.Column("segment_frames", sa.Integer(), nullable=True))
    op.add_column("jobs", sa.Column("segment_overlap", sa.Integer(), nullable=True))
    op.add_column("jobs", sa.Column("segment_count", sa.Integer(), nullable=True))
    op.create_table(
        "job_videos",
        sa.Column(
            "image_id", sa.Integer(), sa.ForeignKey("job_images.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("job_id", sa.Integer(), sa.ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("frame_count", sa.Integer(), nullable=False),
        sa.Column("fps", sa.String(32), nullable=False),
        sa.Column("manifest_key", sa.String(200), nullable=True),
        sa.Column("chunk_keys", sa.JSON(), nullable=True),
        sa.Column("chunk_frames", sa.Integer(), nullable=True),
        sa.Column("frame_width", sa.Integer(), nullable=True),
        sa.Column("frame_height", sa.Integer(), nullable=True),
        sa.Column("scale", sa.Float(), nullable=True),
    )
    op.create_index("ix_job_videos_job_id", "job_videos", ["job_id"])
    op.create_table(
        "video_segments",
        sa.Column("chunk_id", sa.Integer(), sa.ForeignKey("chunks.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("job_id", sa.Integer(), sa.ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False),
        sa.Column(
            "image_id", sa.Integer(), sa.ForeignKey("job_images.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("start_frame", sa.Integer(), nullable=False),
        sa.Column("end_frame", sa.Integer(), nullable=False),
    )
    op.create_index("ix_video_segments_job_image", "video_segments", ["job_id", "image_id", "start_frame"])


def downgrade() -> None:
    op.drop_index("ix_video_segments_job_image", table_name="video_segments")
    op.drop_table("video_segments")
    op.drop_index("ix_job_videos_job_id", table_name="job_videos")
    op.drop_table("job_videos")
    op.drop_column("jobs", "segment_count")
    op.drop_column("jobs", "segment_overlap")
    op.drop_column("jobs", "segment_frames")
