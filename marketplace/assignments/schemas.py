"""Request and response models of the assignment API. Nothing here can carry GT information."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

from marketplace.bounds import ApiInput
from marketplace.geometry.schemas import Coordinates, Rings
from marketplace.jobs.attributes import MAX_ATTRIBUTES, MAX_TEXT, AttributeSpec
from marketplace.models import AssignmentStatus, JobStatus, JobType

AttributeKey = Annotated[str, Field(min_length=1, max_length=64)]
AttributeText = Annotated[str, Field(max_length=MAX_TEXT)]

MAX_OBJECTS_PER_ITEM = 1000
MAX_EVENTS = 2000
MAX_MOUSE_SAMPLES = 10_000
MAX_TRACKS = 500
MAX_KEYFRAMES = 5000


# -- submissions ----------------------------------------------------------------------------------


class AnnotationIn(ApiInput):
    """``geometry``: ``[x, y, w, h]`` for boxes, ``[x, y]`` for points, omitted for classification;
    for polygons a list of rings ``[[x0, y0, x1, y1, ...], ...]`` (even-odd: a ring inside another
    is a hole)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    label: str = Field(min_length=1, max_length=200)
    geometry: Coordinates | Rings | None = None
    attributes: dict[AttributeKey, StrictBool | AttributeText] | None = Field(
        default=None,
        max_length=MAX_ATTRIBUTES,
        description="the job's per-object attributes by name (checkbox: true/false; select: one of its "
        "values; text); one left out takes its default",
    )


class HoverIn(ApiInput):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    enter_ms: float = Field(ge=0)
    leave_ms: float | None = Field(default=None, ge=0)


class InteractionsIn(ApiInput):
    """What the browser recorded on one item (ms since the assignment was shown)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    time_on_item_ms: float | None = Field(default=None, ge=0)
    hovers: list[HoverIn] = Field(default_factory=list, max_length=MAX_EVENTS)
    clicks_ms: list[float] = Field(default_factory=list, max_length=MAX_EVENTS)
    mouse: list[tuple[float, float, float]] = Field(
        default_factory=list, max_length=MAX_MOUSE_SAMPLES, description="throttled [t_ms, x, y] samples"
    )


class KeyframeIn(ApiInput):
    """A track's keyframe: ``geometry`` is a box ``[xtl, ytl, xbr, ybr]`` (``video_boxes``) or a
    polygon's rings ``[[x0, y0, x1, y1, ...], ...]`` (``video_polygons``) in the video's original pixels
    (omitted when ``outside``)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    frame: StrictInt = Field(ge=0, le=10_000_000, description="frame index in the video (0-based)")
    geometry: Annotated[list[float], Field(max_length=4)] | Rings | None = None
    outside: StrictBool = False
    occluded: StrictBool = False


class TrackIn(ApiInput):
    """An object followed through a video segment: frames between keyframes are interpolated
    (:mod:`marketplace.geometry.tracks`)."""

    model_config = ConfigDict(extra="forbid")

    id: StrictInt = Field(ge=0, le=1_000_000_000)
    label: str = Field(min_length=1, max_length=200)
    keyframes: list[KeyframeIn] = Field(min_length=1, max_length=MAX_KEYFRAMES)


class ItemAnswerIn(ApiInput):
    """An image item's ``annotations``, or a video item's ``tracks``."""

    model_config = ConfigDict(extra="forbid")

    item_id: str = Field(min_length=1, max_length=64)
    annotations: list[AnnotationIn] | None = Field(
        default=None,
        max_length=MAX_OBJECTS_PER_ITEM,
        description="image items: an explicit empty list means 'nothing here'",
    )
    tracks: list[TrackIn] | None = Field(
        default=None,
        max_length=MAX_TRACKS,
        description="video items: the segment's tracks; an explicit empty list means 'nothing here'",
    )
    interactions: InteractionsIn | None = None


class SubmissionIn(ApiInput):
    model_config = ConfigDict(extra="forbid")

    items: list[ItemAnswerIn] = Field(min_length=1, max_length=1000)


class BoxAssistIn(ApiInput):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    item_id: str = Field(min_length=1, max_length=64)
    box: list[float] = Field(min_length=4, max_length=4, description="[x, y, w, h] around the object")


class BoxAssistOut(BaseModel):
    rings: list[list[float]] = Field(description="[[x0, y0, x1, y1, ...], ...], image pixels, even-odd")


class SubmitOut(BaseModel):
    assignment_id: int
    status: AssignmentStatus
    submitted_at: datetime


# -- what a worker sees ---------------------------------------------------------------------------


class FrameChunkOut(BaseModel):
    index: int = Field(description="the chunk's index in the video: it holds frames index*chunk_frames ...")
    first_frame: int
    frame_count: int
    url: str = Field(description="a zip of JPEGs, member k.jpg (6 digits) is frame k")


class VideoSegmentOut(BaseModel):
    """What a player needs for a video item: the segment's frames and the chunks holding them."""

    start_frame: int
    end_frame: int = Field(description="exclusive")
    overlap_before: int = Field(description="the first frames, shared with the previous segment")
    overlap_after: int = Field(description="the last frames, shared with the next segment")
    video_frames: int = Field(description="frames of the whole video")
    fps: str = Field(description="frames per second as a fraction, e.g. 30000/1001")
    frame_width: int = Field(description="the served frames' pixels (geometry is in the original's)")
    frame_height: int
    scale: float = Field(description="served pixels per original pixel")
    chunk_frames: int
    chunks: list[FrameChunkOut]


class ContextObjectOut(BaseModel):
    label: str
    geometry: list[float]


class ItemOut(BaseModel):
    item_id: str
    image_url: str = Field(description="an image item's image; a video item's first frame chunk")
    width: int
    height: int
    context: list[ContextObjectOut] = Field(
        default_factory=list,
        description="a pipeline stage in sequence: what the earlier stages drew on this image, to show "
        "read-only (not part of the answer); empty elsewhere",
    )


class VideoItemOut(ItemOut):
    """An item of a video job: a segment of one video (every item of a video job has this form)."""

    video: VideoSegmentOut


class InstructionsOut(BaseModel):
    title: str
    description: str
    guide_url: str | None


class AssignmentOut(BaseModel):
    """A claimed assignment: everything needed to annotate it, items in display order."""

    assignment_id: int
    job_id: int
    job_type: JobType
    status: AssignmentStatus
    deadline: datetime
    time_limit_s: int
    instructions: InstructionsOut
    labels: list[str]
    attributes: list[AttributeSpec] = Field(
        default_factory=list, description="what every drawn object carries besides its label"
    )
    items: list[VideoItemOut | ItemOut]


class MyAssignmentOut(BaseModel):
    assignment_id: int
    job_id: int
    job_title: str
    job_type: JobType
    status: AssignmentStatus
    deadline: datetime
    claimed_at: datetime
    submitted_at: datetime | None
    finished_at: datetime | None
    score: float | None


class OpenJobOut(BaseModel):
    job_id: int
    title: str
    type: JobType
    description: str
    guide_url: str | None
    labels: list[str]
    currency: str
    pay_per_assignment: str = Field(description="integer as a string: cents or token base units")
    assignments_left: int
    items_per_assignment: int
    time_limit_s: int


# -- requester views ------------------------------------------------------------------------------


class ProgressOut(BaseModel):
    job_id: int
    status: JobStatus
    images_total: int = Field(description="work images (a video job: segments)")
    images_done: int = Field(description="work images in finished chunks (a video job: finished segments)")
    chunks_total: int
    chunks: dict[str, int]
    assignments: dict[str, int]


class ExportItemOut(BaseModel):
    image: str
    position: int
    is_gt: bool
    answer: Any
    interactions: Any


class ExportAssignmentOut(BaseModel):
    assignment_id: int
    worker_id: int
    chunk_position: int
    status: AssignmentStatus
    score: float | None
    submitted_at: datetime | None
    items: list[ExportItemOut]
