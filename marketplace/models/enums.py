"""String enums stored as plain VARCHAR columns (portable across SQLite and PostgreSQL)."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal


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
    video_polygons = "video_polygons"


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


VIDEO_TYPES = frozenset({JobType.video_boxes, JobType.video_polygons})
#: the kind of track (:mod:`marketplace.geometry.tracks`) each video job type's workers draw
TRACK_KINDS: dict[JobType, Literal["box", "polygon"]] = {
    JobType.video_boxes: "box",
    JobType.video_polygons: "polygon",
}
