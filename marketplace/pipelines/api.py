"""Pipelines over HTTP: the requester creates one and follows it; QA workers claim and decide items;
annotators fix the issues raised on their work."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, UploadFile, status
from fastapi.responses import Response

from marketplace.bounds import Id, Limit, Offset
from marketplace.datasets import sources
from marketplace.datasets.ground_truth import load_coco
from marketplace.deps import CurrentUser, RequesterUser, SessionDep, SettingsDep, WorkerUser
from marketplace.errors import Forbidden, error_responses
from marketplace.flows import pipeline as flow
from marketplace.flows import pipeline_view
from marketplace.jobs import uploads
from marketplace.media import service as media
from marketplace.models import Role, utcnow
from marketplace.pipelines import items, manage, service
from marketplace.pipelines import repository as repo
from marketplace.pipelines.schemas import (
    DecisionIn,
    DecisionOut,
    FixIn,
    ItemOut,
    ManageOut,
    PipelineCreate,
    PipelineOut,
    PipelineSpec,
    ReassignIn,
    RedistributeIn,
    StageWorkerOut,
)

router = APIRouter(tags=["pipelines"])


@router.post(
    "/api/pipelines",
    response_model=PipelineOut,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(400, 401, 403, 404, 413, 422),
)
def create_pipeline(
    body: PipelineCreate, user: RequesterUser, session: SessionDep, settings: SettingsDep
) -> PipelineOut:
    """Create a pipeline: one draft job per stage (fund each with the job funding endpoints; each is its
    own budget line), and one item per data image."""
    storage = sources.open_job_data(session, body.data_uri, settings, owner=user)
    pipeline = flow.create_pipeline(session, user, body, gt=body.gt, storage=storage, settings=settings)
    return service.view(session, pipeline)


@router.post(
    "/api/pipelines/upload",
    response_model=PipelineOut,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(400, 401, 403, 413, 422),
)
def create_pipeline_from_upload(
    user: RequesterUser,
    session: SessionDep,
    settings: SettingsDep,
    spec: Annotated[str, Form(description="the pipeline as JSON (PipelineCreate without data_uri/gt)")],
    gt: Annotated[UploadFile, File(description="ground truth of every stage's labels, COCO JSON")],
    images: Annotated[list[UploadFile], File(description="the images")],
) -> PipelineOut:
    """Create a pipeline from uploaded images and a GT file (multipart form), as jobs are."""
    pipeline_spec = uploads.parse_spec(spec, PipelineSpec)
    raw = uploads.read_limited(gt, settings.max_gt_bytes, "GT file")
    uploads.refuse_unstorable_json(raw, "gt")
    gt_doc = load_coco(raw).dataset  # a 422 naming what is wrong, as for jobs
    stored = uploads.store_images(images, settings)
    try:
        pipeline = flow.create_pipeline(
            session, user, pipeline_spec, gt=gt_doc, storage=stored.storage, settings=settings
        )
    except BaseException:
        stored.discard()
        raise
    return service.view(session, pipeline)


def _not_worker(user: Any) -> None:
    if user.role is Role.worker:
        raise Forbidden("workers see pipeline items through QA claims and their fixes")


@router.get("/api/pipelines", response_model=list[PipelineOut], responses=error_responses(401, 403, 422))
def list_pipelines(
    user: CurrentUser,
    session: SessionDep,
    limit: Annotated[Limit, Query()] = 50,
    offset: Annotated[Offset, Query()] = 0,
) -> list[PipelineOut]:
    _not_worker(user)
    owner = None if user.role in (Role.admin, Role.reviewer) else user.id
    return [service.view(session, p) for p in repo.list_pipelines(session, owner, limit, offset)]


@router.get(
    "/api/pipelines/{pipeline_id}", response_model=PipelineOut, responses=error_responses(401, 403, 404, 422)
)
def get_pipeline(pipeline_id: Id, user: CurrentUser, session: SessionDep) -> PipelineOut:
    """Progress per stage and items per status, open issues, and each stage's books."""
    _not_worker(user)
    return service.view(session, service.get_pipeline_for(session, user, pipeline_id))


@router.get("/api/pipelines/{pipeline_id}/results", responses=error_responses(401, 403, 404, 422))
def pipeline_results(pipeline_id: Id, user: CurrentUser, session: SessionDep) -> dict[str, Any]:
    """COCO instances of the approved items (every stage's objects, fixes included)."""
    _not_worker(user)
    return service.results(session, service.get_pipeline_for(session, user, pipeline_id))


@router.get("/api/pipelines/{pipeline_id}/history", responses=error_responses(401, 403, 404, 422))
def pipeline_history(pipeline_id: Id, user: CurrentUser, session: SessionDep) -> list[dict[str, Any]]:
    """Every item's history of statuses and its issues."""
    _not_worker(user)
    return service.history(session, service.get_pipeline_for(session, user, pipeline_id))


@router.get(
    "/api/pipelines/{pipeline_id}/workers",
    response_model=list[StageWorkerOut],
    responses=error_responses(401, 403, 404, 422),
)
def pipeline_workers(pipeline_id: Id, user: CurrentUser, session: SessionDep) -> list[StageWorkerOut]:
    """Per stage, each worker: work accepted and rejected, time per item, items credited, issues that
    came back (open, fixed); QA workers' decisions and hidden checks caught."""
    _not_worker(user)
    return pipeline_view.stage_workers(session, user, pipeline_id)


@router.post(
    "/api/pipelines/{pipeline_id}/reassign",
    response_model=ManageOut,
    responses=error_responses(400, 401, 404, 409, 413, 422),
)
def reassign(pipeline_id: Id, body: ReassignIn, user: CurrentUser, session: SessionDep) -> ManageOut:
    """The requester moves one worker's open items of a stage to another member of it: an annotate
    stage's open fixes, or the QA stage's held items and items waiting for their re-review."""
    return manage.reassign(session, user, pipeline_id, body, utcnow())


@router.post(
    "/api/pipelines/{pipeline_id}/redistribute",
    response_model=ManageOut,
    responses=error_responses(400, 401, 404, 409, 413, 422),
)
def redistribute(pipeline_id: Id, body: RedistributeIn, user: CurrentUser, session: SessionDep) -> ManageOut:
    """The requester spreads a stage's open items (fixes, or QA holds and re-reviews) evenly among
    the members listed."""
    return manage.redistribute(session, user, pipeline_id, body, utcnow())


@router.post("/api/pipelines/qa/claim", response_model=ItemOut, responses=error_responses(401, 403, 409))
def claim_for_qa(user: WorkerUser, session: SessionDep) -> ItemOut:
    """The next item to review: the one held, one routed to a custom status this worker is a member
    of (or whose fixes came back to them from it), one whose fixes came back to this QA worker, or a
    completed one of a QA stage this worker may work in."""
    item = service.claim(session, user, utcnow())
    return service.qa_view(session, user, item)


@router.post(
    "/api/pipeline-items/{item_id}/decision",
    response_model=DecisionOut,
    responses=error_responses(400, 401, 403, 404, 409, 413, 422),
)
def decide(item_id: Id, body: DecisionIn, user: WorkerUser, session: SessionDep) -> DecisionOut:
    """Approve, discard, raise issues (back to the annotators), reopen fixed issues, or route the item
    to one of the QA stage's custom statuses (``status``, with a comment): it then waits for that
    route's members, who decide it the same way."""
    return DecisionOut(id=item_id, status=flow.decide(session, user, item_id, body))


@router.get("/api/pipeline-items/fixes", response_model=list[ItemOut], responses=error_responses(401, 403))
def my_fixes(user: WorkerUser, session: SessionDep) -> list[ItemOut]:
    """Items with open issues on this annotator's work, each with only those issues."""
    return service.items_to_fix(session, user)


@router.post(
    "/api/pipeline-items/{item_id}/fix",
    response_model=ItemOut,
    responses=error_responses(400, 401, 403, 404, 409, 413, 422),
)
def fix_item(item_id: Id, body: FixIn, user: WorkerUser, session: SessionDep) -> ItemOut:
    """The stage's objects on the item, corrected; the issues of this annotator there become fixed."""
    item = service.fix(session, user, item_id, body, utcnow())
    return items.item_view(session, item, issues_for=user.id)


@router.get(
    "/api/pipeline-items/{item_id}/image",
    responses={
        200: {"content": {"image/*": {}}, "description": "the image"},
        **error_responses(401, 404, 422),
    },
)
def item_image(item_id: Id, user: CurrentUser, session: SessionDep, settings: SettingsDep) -> Response:
    job_id, image_id = service.item_image(session, user, item_id)
    body = media.job_image(session, image_id, settings, job_id=job_id)
    return Response(content=body.content, media_type=body.content_type, headers=body.headers)
