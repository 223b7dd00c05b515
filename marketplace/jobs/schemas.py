from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from marketplace.models.enums import JobStatus, JobType, Rail

DEFAULT_IOU = 0.5
DEFAULT_POINT_TOLERANCE = 0.1


class JobSpec(BaseModel):
    """Everything a requester says about a job, apart from the data files themselves."""

    model_config = ConfigDict(extra="forbid")

    type: JobType
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=20_000)
    labels: list[str] = Field(min_length=1, max_length=1000)
    guide_url: str | None = Field(default=None, max_length=1024)
    accuracy_target: float = Field(default=0.8, ge=0.0, le=1.0)
    iou_threshold: float = Field(default=DEFAULT_IOU, gt=0.0, le=1.0)
    point_tolerance: float = Field(default=DEFAULT_POINT_TOLERANCE, gt=0.0, le=1.0)
    bounty_amount: int = Field(gt=0, description="integer: cents (card) or token base units (chain)")
    currency: str = Field(min_length=1, max_length=64, description="'usd' for card; token symbol/address")
    rail: Rail
    assignment_size: int = Field(default=10, ge=1, le=500)
    gt_per_assignment: int = Field(default=2, ge=0, le=100)
    time_limit_s: int = Field(default=30 * 60, ge=30, le=7 * 24 * 3600)
    overlap: int = Field(default=1, ge=1, le=20)
    max_attempts: int = Field(default=3, ge=1, le=50)

    @field_validator("labels")
    @classmethod
    def _labels_unique(cls, labels: list[str]) -> list[str]:
        cleaned = [label.strip() for label in labels]
        if any(not label for label in cleaned):
            raise ValueError("labels must not be empty")
        if len(set(cleaned)) != len(cleaned):
            raise ValueError("labels must be unique")
        return cleaned

    @field_validator("guide_url")
    @classmethod
    def _guide_is_http(cls, url: str | None) -> str | None:
        if url and not url.startswith(("http://", "https://")):
            raise ValueError("guide_url must be an http(s) URL")
        return url

    @field_validator("bounty_amount", mode="before")
    @classmethod
    def _bounty_integer(cls, value: Any) -> Any:
        if isinstance(value, float):
            raise ValueError("bounty_amount must be an integer number of cents or token base units")
        if isinstance(value, str) and value.isdigit():
            return int(value)
        return value

    @model_validator(mode="after")
    def _classification_needs_two_labels(self) -> JobSpec:
        if self.type is JobType.classification and len(self.labels) < 2:
            raise ValueError("a classification job needs at least two labels (e.g. yes/no)")
        return self


class JobCreate(JobSpec):
    """Create from a data location (local folder allowed by the server, or s3://bucket/prefix)."""

    data_uri: str = Field(min_length=1, max_length=1024)
    gt: dict[str, Any] = Field(description="ground truth as a COCO JSON object")


class JobOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    requester_id: int
    type: JobType
    status: JobStatus
    title: str
    description: str
    labels: list[str]
    data_uri: str
    guide_url: str | None
    accuracy_target: float
    iou_threshold: float
    point_tolerance: float
    bounty_amount: str = Field(description="integer as a string (token amounts exceed 2**53)")
    currency: str
    rail: Rail
    assignment_size: int
    gt_per_assignment: int
    time_limit_s: int
    overlap: int
    max_attempts: int
    image_count: int
    gt_count: int
    created_at: datetime
    updated_at: datetime

    @field_validator("bounty_amount", mode="before")
    @classmethod
    def _amount_as_text(cls, value: Any) -> str:
        return str(value)
