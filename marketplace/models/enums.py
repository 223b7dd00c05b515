"""String enums stored as plain VARCHAR columns (portable across SQLite and PostgreSQL)."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    requester = "requester"
    worker = "worker"
    reviewer = "reviewer"
    admin = "admin"


class JobType(StrEnum):
    """Image jobs, and video jobs (``video_*``: one item is a segment of one video)."""

    boxes = "boxes"
    points = "points"
    polygons = "polygons"
    classification = "classification"
    video_boxes = "video_boxes"


class Rail(StrEnum):
    chain = "chain"
    card = "card"


class JobStatus(StrEnum):
    draft = "draft"
    awaiting_funds = "awaiting_funds"
    ingesting = "ingesting"
    active = "active"
    validating = "validating"
    completed = "completed"
    cancelled = "cancelled"
    failed = "failed"


VIDEO_TYPES = frozenset({JobType.video_boxes})
