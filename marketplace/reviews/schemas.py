"""Request and response models of the reviewers' API and of worker appeals."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from marketplace.bounds import ApiInput, StrictId
from marketplace.geometry.schemas import Coordinates, Rings
from marketplace.models import DisputeKind, DisputeStatus


class Action(StrEnum):
    uphold = "uphold"  # the automatic outcome stands
    overturn = "overturn"  # the rejected assignment becomes accepted and payable
    fix_gt_label = "fix_gt_label"  # replace the GT answer of an image; failed assignments re-scored
    retire_gt = "retire_gt"  # never use this GT image again; failed assignments re-scored
    restore_gt = "restore_gt"  # the GT image was right: back in use
    ban_worker = "ban_worker"  # stop the worker on this job
    reopen_chunk = "reopen_chunk"  # give an exhausted chunk fresh attempts
    unlink = "unlink"  # ambiguous_stitch: the segment's track starts a new id instead of continuing one


class AppealIn(ApiInput):
    model_config = ConfigDict(extra="forbid")

    comment: str = Field(min_length=1, max_length=4000)


class GtObjectIn(ApiInput):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    label: str = Field(min_length=1, max_length=200)
    geometry: Coordinates | Rings | None = Field(
        default=None, description="[x, y, w, h] (boxes), [x, y] (points), rings (polygons) or none"
    )


class DecisionIn(ApiInput):
    model_config = ConfigDict(extra="forbid")

    action: Action
    comment: str = Field(default="", max_length=4000)
    assignment_id: StrictId | None = Field(
        default=None, description="overturn: which assignment (chunk disputes)"
    )
    image_id: StrictId | None = Field(
        default=None, description="GT actions when the dispute is not about an image"
    )
    worker_id: StrictId | None = Field(
        default=None, description="ban_worker when the dispute names no worker"
    )
    gt_objects: list[GtObjectIn] | None = Field(default=None, description="fix_gt_label: the correct answer")


class EventOut(BaseModel):
    at: datetime
    actor_id: int | None
    action: str
    comment: str
    data: Any = None


class DisputeOut(BaseModel):
    id: int
    job_id: int
    kind: DisputeKind
    subject: str
    status: DisputeStatus
    assignment_id: int | None
    chunk_id: int | None
    image_id: int | None
    worker_id: int | None
    reason: str
    decision: str | None
    decided_by: int | None
    decided_at: datetime | None
    created_at: datetime


class DisputeDetailOut(DisputeOut):
    details: Any = None
    history: list[EventOut]
    context: dict[str, Any]


class AppealOut(BaseModel):
    """What a worker sees of their own appeal (no GT, no reviewer identity)."""

    id: int
    assignment_id: int | None
    status: DisputeStatus
    comment: str
    decision: str | None
    decided_at: datetime | None
    created_at: datetime
