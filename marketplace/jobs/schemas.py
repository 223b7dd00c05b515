from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from marketplace.bounds import MAX_CARD_AMOUNT, MAX_FILE_NAME_BYTES, S3_BUCKET, Amount, ApiInput
from marketplace.jobs.attributes import MAX_ATTRIBUTES, AttributeSpec, check_specs
from marketplace.jobs.economics import ExpectedCosts
from marketplace.jobs.segments import (
    DEFAULT_IDF1_TARGET,
    DEFAULT_SEGMENT_FRAMES,
    DEFAULT_SEGMENT_OVERLAP,
    MAX_SEGMENT_FRAMES,
    MIN_SEGMENT_FRAMES,
)
from marketplace.models.enums import VIDEO_TYPES, JobStatus, JobType, Rail
from marketplace.models.job import DEFAULT_CONFIDENCE_THRESHOLD

DEFAULT_IOU = 0.5
DEFAULT_POINT_TOLERANCE = 0.1
MAX_LABEL_CHARS = 200  # the GT and answer label columns
Label = Annotated[str, StringConstraints(min_length=1, max_length=MAX_LABEL_CHARS)]
StrictCount = Annotated[int, Field(strict=True)]
MAX_COST_LABELS = 50  # a cost matrix is labels x labels numbers
Cost = Annotated[float, Field(ge=0.0, le=1e9, allow_inf_nan=False)]


class JobSpec(ApiInput):
    """Everything a requester says about a job, apart from the data files themselves."""

    model_config = ConfigDict(extra="forbid")

    type: JobType
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=20_000)
    labels: list[Label] = Field(min_length=1, max_length=1000)
    guide_url: str | None = Field(default=None, max_length=1024)
    accuracy_target: float = Field(default=0.8, ge=0.0, le=1.0)
    iou_threshold: float = Field(default=DEFAULT_IOU, gt=0.0, le=1.0)
    point_tolerance: float = Field(default=DEFAULT_POINT_TOLERANCE, gt=0.0, le=1.0)
    cost_matrix: list[list[Cost]] | None = Field(
        default=None,
        max_length=MAX_COST_LABELS,
        description="classification only: cost_matrix[t][d] is what deciding label d costs when the truth "
        "is label t (labels in the job's order; 0 on the diagonal is usual). The merged answer of an "
        "image is then the label of least expected cost, not the most likely one.",
    )
    attributes: list[AttributeSpec] = Field(
        default_factory=list,
        max_length=MAX_ATTRIBUTES,
        description="boxes, points, polygons: attributes every drawn object carries (checkbox, select "
        "or text, e.g. occluded, truncated); exported in each COCO annotation's `attributes`",
    )
    # rail before bounty_amount: the bounty's ceiling depends on the rail
    rail: Rail
    currency: str = Field(min_length=1, max_length=64, description="'usd' for card; token symbol/address")
    bounty_amount: Amount = Field(
        description=f"cents (card, at most {MAX_CARD_AMOUNT}) or token base units (chain, below 2**256)"
    )
    assignment_size: StrictCount = Field(default=10, ge=1, le=500)
    gt_per_assignment: StrictCount = Field(default=2, ge=0, le=100)
    gt_spot_check: float = Field(
        default=0.15,
        gt=0.0,
        le=1.0,
        description="adaptive GT: as the sequential test comes to trust a worker, each of an "
        "assignment's gt_per_assignment GT slots stays GT with a falling probability, down to this "
        "one (a random spot check; the other slots carry real work, so the assignment's length never "
        "changes). 1 = fixed GT for everyone.",
    )
    time_limit_s: StrictCount = Field(default=30 * 60, ge=30, le=7 * 24 * 3600)
    overlap: StrictCount = Field(default=1, ge=1, le=20)
    max_overlap: StrictCount | None = Field(
        default=None,
        ge=1,
        le=20,
        description="dynamic overlap (classification, boxes): an image whose merged answer is less "
        "certain than confidence_threshold (boxes: a box drawn by one worker, or with uncertain "
        "corners) goes to one more worker, until it has max_overlap answers; only "
        "then to a reviewer. The bounty reserves for every image reaching max_overlap, and what is not "
        "spent is refunded. Omitted: overlap (off).",
    )
    share_reliability: bool = Field(
        default=False,
        description="let how accurate workers are on this job's hidden GT inform your other jobs and "
        "other requesters' jobs that share too: a worker known to be good there starts here with "
        "fewer GT items and a higher merge weight. Only that accuracy is shared, never your data.",
    )
    confidence_threshold: float = Field(
        default=DEFAULT_CONFIDENCE_THRESHOLD,
        gt=0.5,
        lt=1.0,
        description="dynamic overlap: the posterior an image's answer must reach to need no more workers",
    )
    max_attempts: StrictCount = Field(default=3, ge=1, le=50)
    segment_frames: StrictCount | None = Field(
        default=None,
        ge=MIN_SEGMENT_FRAMES,
        le=MAX_SEGMENT_FRAMES,
        description=f"video jobs: frames per segment, the unit of assignment and pay (default "
        f"{DEFAULT_SEGMENT_FRAMES})",
    )
    segment_overlap: StrictCount | None = Field(
        default=None,
        ge=0,
        le=MAX_SEGMENT_FRAMES // 2,
        description=f"video jobs: frames neighbouring segments share, so tracks can be joined across "
        f"them (default {DEFAULT_SEGMENT_OVERLAP}; less than half of segment_frames)",
    )
    idf1_target: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description=f"video jobs: the IDF1 a segment's tracks must reach on its hidden GT frames, beside "
        f"accuracy_target per frame (default {DEFAULT_IDF1_TARGET}): a worker who swaps two people "
        "has every box right and fails this",
    )

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

    @field_validator("bounty_amount")
    @classmethod
    def _bounty_fits_rail(cls, value: int, info: ValidationInfo) -> int:
        if info.data.get("rail") is Rail.card and value > MAX_CARD_AMOUNT:
            raise ValueError(
                f"a card bounty is at most {MAX_CARD_AMOUNT} cents (Stripe's largest charge); "
                "split the work into several jobs or fund it on chain"
            )
        return value

    @model_validator(mode="after")
    def _classification_needs_two_labels(self) -> JobSpec:
        if self.type is JobType.classification and len(self.labels) < 2:
            raise ValueError("a classification job needs at least two labels (e.g. yes/no)")
        return self

    @model_validator(mode="after")
    def _video_fits(self) -> JobSpec:
        if self.type not in VIDEO_TYPES:
            if self.segment_frames is not None or self.segment_overlap is not None:
                raise ValueError("segment_frames and segment_overlap are for video jobs")
            if self.idf1_target is not None:
                raise ValueError("idf1_target is for video jobs")
            return self
        if self.gt_per_assignment:
            raise ValueError(
                "gt_per_assignment: a video job's hidden GT is frames inside its segments (gt: "
                "{video name: {frames, tracks}}), not GT items; set gt_per_assignment to 0"
            )
        if self.attributes:
            raise ValueError("attributes are not offered for video jobs yet")
        if self.max_overlap is not None and self.max_overlap != self.overlap:
            raise ValueError("max_overlap: dynamic overlap is not offered for video jobs")
        frames = self.segment_frames or DEFAULT_SEGMENT_FRAMES
        overlap = DEFAULT_SEGMENT_OVERLAP if self.segment_overlap is None else self.segment_overlap
        if 2 * overlap >= frames:
            raise ValueError(
                f"segment_overlap ({overlap}) must be less than half of segment_frames ({frames})"
            )
        # one segment per assignment
        self.segment_frames, self.segment_overlap, self.assignment_size = frames, overlap, 1
        if self.idf1_target is None:
            self.idf1_target = DEFAULT_IDF1_TARGET
        return self

    @model_validator(mode="after")
    def _attributes_fit(self) -> JobSpec:
        if self.attributes and self.type is JobType.classification:
            raise ValueError("attributes belong to drawn objects (boxes, points, polygons), not labels")
        check_specs(self.attributes)
        return self

    @model_validator(mode="after")
    def _dynamic_overlap_fits(self) -> JobSpec:
        if self.max_overlap is None or self.max_overlap == self.overlap:
            return self
        if self.max_overlap < self.overlap:
            raise ValueError(f"max_overlap ({self.max_overlap}) must be at least overlap ({self.overlap})")
        if self.type not in (JobType.classification, JobType.boxes):
            raise ValueError("max_overlap: dynamic overlap is offered for classification and box jobs")
        return self

    @model_validator(mode="after")
    def _cost_matrix_fits_the_labels(self) -> JobSpec:
        if self.cost_matrix is None:
            return self
        if self.type is not JobType.classification:
            raise ValueError("cost_matrix: only classification jobs decide by cost")
        n = len(self.labels)
        if len(self.cost_matrix) != n or any(len(row) != n for row in self.cost_matrix):
            raise ValueError(f"cost_matrix: must be {n}x{n}, one row and one column per label")
        return self


class JobCreate(JobSpec):
    """Create from a data location (local folder allowed by the server, or s3://bucket/prefix)."""

    data_uri: str = Field(
        min_length=1, max_length=1024, description="s3://bucket/prefix or an absolute folder"
    )
    gt: dict[str, Any] = Field(
        description="ground truth: a COCO JSON object (image jobs); for video jobs, hidden GT frames "
        'inside segments: {video name: {"tracks": [...], "frames": [...]}} or {video name: {"mot": '
        '"<gt.txt text>"}}'
    )

    @field_validator("data_uri")
    @classmethod
    def _data_location_shape(cls, uri: str) -> str:
        return cls.check_data_uri(uri)

    @staticmethod
    def check_data_uri(uri: str) -> str:
        """Refuse what no folder or bucket can be, before the file system or S3 sees it."""
        if uri.startswith("s3://"):
            bucket = uri.removeprefix("s3://").partition("/")[0]
            if not S3_BUCKET.fullmatch(bucket):
                raise ValueError(f"{bucket!r} is not an S3 bucket name")
            return uri
        path = uri.removeprefix("file://")
        if not path.startswith("/"):
            raise ValueError("a local data folder must be an absolute path (no '~', no relative path)")
        if any(len(part.encode()) > MAX_FILE_NAME_BYTES for part in path.split("/")):
            raise ValueError(f"a folder name in the path is longer than {MAX_FILE_NAME_BYTES} bytes")
        return uri


class IngestErrorOut(BaseModel):
    name: str
    reason: str


class JobOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    requester_id: int
    type: JobType
    status: JobStatus
    title: str
    description: str
    labels: list[str]
    data_uri: str = Field(description="the location given at creation; `upload:<id>` for uploaded data")
    guide_url: str | None
    accuracy_target: float
    iou_threshold: float
    point_tolerance: float
    cost_matrix: list[list[float]] | None = None
    attributes: list[AttributeSpec] = Field(default_factory=list)
    bounty_amount: str = Field(description="integer as a string (token amounts exceed 2**53)")
    currency: str
    rail: Rail
    assignment_size: int
    gt_per_assignment: int
    gt_spot_check: float
    time_limit_s: int
    overlap: int
    max_overlap: int | None = None
    confidence_threshold: float = DEFAULT_CONFIDENCE_THRESHOLD
    share_reliability: bool = False
    max_attempts: int
    segment_frames: int | None = None
    segment_overlap: int | None = None
    segment_count: int | None = Field(
        default=None, description="video jobs: segments (assignments x overlap)"
    )
    idf1_target: float | None = None
    image_count: int
    gt_count: int
    ingested_count: int = Field(
        default=0, description="activation (`ingesting`): images made into serving renditions so far"
    )
    ingest_errors: list[IngestErrorOut] | None = Field(
        default=None, description="a `failed` activation: the files that could not be made into renditions"
    )
    created_at: datetime
    updated_at: datetime

    @field_validator("bounty_amount", mode="before")
    @classmethod
    def _amount_as_text(cls, value: Any) -> str:
        return str(value)

    @field_validator("attributes", mode="before")
    @classmethod
    def _no_attributes(cls, value: Any) -> Any:
        return value or []

    @field_validator("data_uri")
    @classmethod
    def _opaque_upload_location(cls, value: str) -> str:
        from marketplace.jobs.uploads import public_data_uri  # uploads imports the storage layer

        return public_data_uri(value)


class ExpectedCostsOut(BaseModel):
    """Amounts are integers as strings (base units of the job's currency)."""

    work: str = Field(
        description="pay for the normal assignments (every image `overlap` times), GT slots included"
    )
    gt_most: str = Field(description="the part of `work` paying for GT slots if every worker stayed new")
    gt_least: str = Field(description="... if every worker were trusted from the start (spot checks only)")
    gt_share_most: float
    gt_share_least: float
    extra_overlap_reserve: str = Field(description="dynamic overlap, up to `max_overlap`; refunded if unused")
    fee: str
    remainder: str = Field(description="rounding left after dividing the bounty; refunded")

    @classmethod
    def of(cls, costs: ExpectedCosts, gt_slots: int, size: int, spot_check: float) -> ExpectedCostsOut:
        slots = gt_slots + size
        return cls(
            work=str(costs.work),
            gt_most=str(costs.gt),
            gt_least=str(costs.gt_trusted),
            gt_share_most=round(gt_slots / slots, 4) if slots else 0.0,
            gt_share_least=round(gt_slots * spot_check / slots, 4) if slots else 0.0,
            extra_overlap_reserve=str(costs.extra_overlap_reserve),
            fee=str(costs.fee),
            remainder=str(costs.remainder),
        )


class ActualCostsOut(BaseModel):
    assignments: int = Field(description="accepted normal assignments")
    extra_overlap_assignments: int = Field(description="accepted assignments of dynamic overlap")
    paid: str = Field(description="earned by workers so far (accepted assignments x pay)")
    gt_items: int
    work_items: int
    gt_share: float = Field(description="GT items / all items in accepted assignments")
    gt_cost: str = Field(description="the part of `paid` that paid for GT items")
    extra_overlap_cost: str
    reviews: int = Field(description="images sent to reviewers for low agreement (not paid from the bounty)")


class GtExposureOut(BaseModel):
    """How many worker accounts each image is expected to be shown to. A colluding ring counts this:
    GT images are picked so their count follows the normal images' (exposure parity), which takes a
    GT pool large enough for the job."""

    normal: float = Field(description="accounts per normal image (the overlap; extras add a little)")
    gt_new: float = Field(description="GT shows per GT image if every worker stayed new (the pool is reused)")
    gt_trusted: float = Field(description="... if every worker were trusted from the start (spot checks)")
    warning: str | None = Field(
        default=None, description="set when the GT pool is too small: GT shown more than normal images"
    )


class CostsOut(BaseModel):
    job_id: int
    currency: str
    pay_per_assignment: str
    expected: ExpectedCostsOut
    actual: ActualCostsOut
    gt_exposure: GtExposureOut
