"""What a requester says about a pipeline, and what its workers and requester see of it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from marketplace.bounds import Amount, ApiInput, StrictId
from marketplace.jobs.schemas import JobCreate, Label, StrictCount
from marketplace.models import IssueStatus, ItemStatus, JobStatus, PipelineStatus

MAX_STAGES = 10
MAX_COMMENT_CHARS = 2000
Coordinate = Annotated[float, Field(ge=-1e6, le=1e6, allow_inf_nan=False)]
Box = Annotated[list[Coordinate], Field(min_length=4, max_length=4)]


class AnnotateStage(ApiInput):
    """A micro-task: these labels only, with their own GT, pay, accuracy target and overlap."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["annotate"]
    name: str = Field(min_length=1, max_length=100)
    labels: list[Label] = Field(min_length=1, max_length=100)
    bounty_amount: Amount
    accuracy_target: float = Field(default=0.8, ge=0.0, le=1.0)
    assignment_size: StrictCount = Field(default=10, ge=1, le=500)
    gt_per_assignment: StrictCount = Field(default=2, ge=0, le=100)
    overlap: StrictCount = Field(default=1, ge=1, le=20)
    time_limit_s: StrictCount = Field(default=30 * 60, ge=30, le=7 * 24 * 3600)
    members: list[StrictId] | None = Field(
        default=None,
        min_length=1,
        max_length=1000,
        description="user ids of the stage's team (worker accounts): only they see and claim its "
        "assignments; omitted: the open crowd",
    )


#: statuses and actions a custom status may not be named after
RESERVED_STATUSES = frozenset(
    {*(s.value for s in ItemStatus), "approve", "discard", "issue", "reopen", "route"}
)


class Route(ApiInput):
    """A custom status of the QA stage: an item set to it waits for these members only."""

    model_config = ConfigDict(extra="forbid")

    status: str = Field(min_length=1, max_length=40, pattern=r"^\S(.*\S)?$", description="e.g. expert review")
    members: list[StrictId] = Field(min_length=1, max_length=100, description="user ids (worker accounts)")


class QaStage(ApiInput):
    """Reviewers see every annotate stage's objects on an item and approve, discard or raise issues."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["qa"]
    name: str = Field(min_length=1, max_length=100)
    bounty_amount: Amount = Field(description="pays the QA workers per decided item")
    members: list[StrictId] | None = Field(
        default=None,
        min_length=1,
        max_length=1000,
        description="user ids of the QA team (worker accounts); omitted: the open crowd",
    )
    time_limit_s: StrictCount = Field(
        default=30 * 60, ge=30, le=7 * 24 * 3600, description="how long a QA worker holds an item"
    )
    fix_time_limit_s: StrictCount = Field(
        default=24 * 3600,
        ge=30,
        le=30 * 24 * 3600,
        description="how long an annotator has to fix an issue before another annotator of the stage gets it",
    )
    routes: list[Route] = Field(
        default_factory=list,
        max_length=10,
        description="custom statuses a QA worker may set, each routing the item to its own members",
    )

    @field_validator("routes")
    @classmethod
    def _route_names(cls, routes: list[Route]) -> list[Route]:
        names = [r.status for r in routes]
        if len(set(names)) != len(names):
            raise ValueError("two routes share a status")
        taken = sorted(set(names) & RESERVED_STATUSES)
        if taken:
            raise ValueError(f"{taken} are built-in statuses or actions; name a custom status otherwise")
        return routes


Stage = Annotated[AnnotateStage | QaStage, Field(discriminator="kind")]


class PipelineSpec(ApiInput):
    """A boxes job split into stages: annotate stages (each a subset of the labels) then one QA stage."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=20_000)
    rail: Literal["card", "chain"]
    currency: str = Field(min_length=1, max_length=64)
    stages: list[Stage] = Field(min_length=2, max_length=MAX_STAGES)
    in_sequence: bool = Field(
        default=False,
        description=(
            "annotate stages one after another per image: a stage's assignments open as their images "
            "are done in the stage before, and show the earlier stages' objects (items' context)"
        ),
    )

    @model_validator(mode="after")
    def _stage_order(self) -> PipelineSpec:
        kinds = [s.kind for s in self.stages]
        if kinds[-1] != "qa" or kinds.count("qa") != 1:
            raise ValueError("a pipeline is one or more annotate stages followed by exactly one qa stage")
        seen: set[str] = set()
        for stage in self.stages:
            if isinstance(stage, AnnotateStage):
                shared = seen & set(stage.labels)
                if shared:
                    raise ValueError(
                        f"labels {sorted(shared)} are in two annotate stages; each label has one"
                    )
                seen |= set(stage.labels)
        return self


class PipelineCreate(PipelineSpec):
    """A pipeline over a data location (local folder allowed by the server, or s3://bucket/prefix)."""

    data_uri: str = Field(
        min_length=1, max_length=1024, description="s3://bucket/prefix or an absolute folder"
    )
    gt: dict[str, Any] = Field(
        description="ground truth of every stage's labels, COCO JSON; each annotate stage gets its part"
    )

    @field_validator("data_uri")
    @classmethod
    def _data_location(cls, uri: str) -> str:
        return JobCreate.check_data_uri(uri)


class StageOut(BaseModel):
    index: int
    kind: str
    name: str
    job_id: int
    labels: list[str]
    status: JobStatus
    members: list[int] | None = Field(default=None, description="the stage's team; null: the open crowd")
    after_job_id: int | None = Field(
        default=None, description="in sequence: the stage (job) whose finished images this one waits for"
    )


class StageBooksOut(BaseModel):
    job_id: int
    funded: str
    fees: str
    paid: str
    refunded: str
    reserved: str = Field(description="held: not yet earned, or earned and not yet paid out")
    balanced: bool


class RouteOut(BaseModel):
    """A custom status of the QA stage: who decides its items, and how many are with them now."""

    status: str
    members: list[int]
    waiting: int = Field(
        description="data items routed here and not yet decided (waiting, held or back for review)"
    )


class PipelineOut(BaseModel):
    id: int
    title: str
    status: PipelineStatus
    currency: str = Field(description="every stage's currency (amounts in its base units)")
    created_at: datetime
    stages: list[StageOut]
    items: dict[str, int] = Field(description="items per status")
    open_issues: int = Field(description="issues not yet resolved (open, or fixed and waiting for QA)")
    books: list[StageBooksOut] = Field(description="each stage's own ledger line")
    qa_checks: QaChecksOut
    routes: list[RouteOut] = Field(default=[], description="the QA stage's custom statuses")


class QaChecksOut(BaseModel):
    """How the QA workers did on the known defects hidden among the items (GT images, one defect each)."""

    checks: int = Field(description="hidden check items")
    decisions: int = Field(description="QA decisions on them")
    caught: int = Field(description="decisions that flagged the defect")
    stopped_workers: int = Field(description="QA workers stopped for missing too many")


class IssueIn(ApiInput):
    model_config = ConfigDict(extra="forbid")

    stage_job_id: StrictId = Field(description="the annotate stage whose work the issue is about")
    object_index: StrictCount | None = Field(
        default=None, ge=0, le=10_000, description="the flagged object's index; omitted: a missing object"
    )
    geometry: Box | None = Field(default=None, description="where a missing object is ([x, y, w, h])")
    comment: str = Field(min_length=1, max_length=MAX_COMMENT_CHARS)


class DecisionIn(ApiInput):
    model_config = ConfigDict(extra="forbid")

    action: Literal["approve", "discard", "issue", "reopen", "route"]
    issues: list[IssueIn] = Field(default_factory=list, max_length=100, description="action issue")
    reopen: list[StrictId] = Field(
        default_factory=list, max_length=100, description="action reopen: issue ids"
    )
    status: str | None = Field(
        default=None, max_length=40, description="action route: one of the QA stage's custom statuses"
    )
    comment: str = Field(default="", max_length=MAX_COMMENT_CHARS)

    @model_validator(mode="after")
    def _needs(self) -> DecisionIn:
        if self.action == "issue" and not self.issues:
            raise ValueError("action 'issue' needs at least one issue")
        if self.action == "reopen" and not self.reopen:
            raise ValueError("action 'reopen' needs the ids of the issues to reopen")
        if self.action == "route" and (not self.status or not self.comment.strip()):
            raise ValueError("action 'route' needs the custom status and a comment saying why")
        return self


class ObjectIn(ApiInput):
    model_config = ConfigDict(extra="forbid")

    label: Label
    geometry: Box


class FixIn(ApiInput):
    model_config = ConfigDict(extra="forbid")

    stage_job_id: StrictId
    objects: list[ObjectIn] = Field(max_length=1000, description="the stage's objects on the item, fixed")


class IssueOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    stage_job_id: int
    status: IssueStatus
    object_index: int | None
    geometry: Any
    comment: str
    raised_by: int
    assignee_id: int | None
    due_at: datetime


class StageWorkOut(BaseModel):
    stage_job_id: int
    stage: str
    labels: list[str]
    objects: list[dict[str, Any]]


class ItemOut(BaseModel):
    """One item as a QA worker or a fixing annotator sees it."""

    id: int
    status: ItemStatus
    image_url: str
    width: int
    height: int
    work: list[StageWorkOut]
    issues: list[IssueOut]
    deadline: datetime | None = None
    route: str | None = Field(default=None, description="the custom status the item was routed to")
    routes: list[str] = Field(
        default_factory=list,
        description="to a QA worker: the QA stage's custom statuses the item may be routed to (action route)",
    )


class DecisionOut(BaseModel):
    id: int
    status: ItemStatus = Field(description="where the decision sent the item")


class StageWorkerOut(BaseModel):
    """One worker in one stage, as the pipeline's manager sees them."""

    stage_job_id: int
    worker_id: int
    role: Literal["annotator", "qa"]
    assignments_accepted: int = 0
    assignments_rejected: int = 0
    items: int = Field(
        default=0, description="annotators: items answered (GT included); QA: data items decided"
    )
    seconds_working: float = Field(default=0.0, description="annotators: claim to submission, summed")
    seconds_per_item: float | None = None
    items_credited: int = Field(default=0, description="annotators: items whose stage work is theirs")
    issues_open: int = 0
    issues_fixed: int = Field(default=0, description="fixed, waiting for QA or resolved")
    checks: int = Field(default=0, description="QA: hidden checks decided")
    checks_caught: int = 0
    stopped: bool = Field(default=False, description="QA: stopped for missing hidden defects")


class ReassignIn(ApiInput):
    """Move one member's items of a stage to another member."""

    model_config = ConfigDict(extra="forbid")

    stage_index: StrictCount = Field(ge=0, le=MAX_STAGES - 1)
    from_worker: StrictId
    to_worker: StrictId

    @model_validator(mode="after")
    def _two_workers(self) -> ReassignIn:
        if self.from_worker == self.to_worker:
            raise ValueError("from_worker and to_worker are the same worker")
        return self


class RedistributeIn(ApiInput):
    """Spread a stage's open items evenly among these members."""

    model_config = ConfigDict(extra="forbid")

    stage_index: StrictCount = Field(ge=0, le=MAX_STAGES - 1)
    members: list[StrictId] = Field(min_length=1, max_length=1000)

    @field_validator("members")
    @classmethod
    def _distinct(cls, members: list[StrictId]) -> list[StrictId]:
        if len(set(members)) != len(members):
            raise ValueError("a member is listed twice")
        return members


class MovedOut(BaseModel):
    item_id: int
    kind: Literal["fix", "review", "re_review"] = Field(
        description="fix: the item's open issues in an annotate stage; review: a QA hold; "
        "re_review: fixed issues waiting for their QA worker"
    )
    from_worker: int
    to_worker: int


class ManageOut(BaseModel):
    stage_index: int
    moved: list[MovedOut]
    kept: int = Field(default=0, description="redistribute: items that stayed with their worker")
