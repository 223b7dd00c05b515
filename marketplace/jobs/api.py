from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Query, UploadFile, status

from marketplace.bounds import Id, Limit, Offset
from marketplace.datasets import sources
from marketplace.deps import CurrentUser, RequesterUser, SessionDep, SettingsDep
from marketplace.errors import Forbidden, error_responses
from marketplace.flows import cancellation, cost_view
from marketplace.jobs import service, uploads
from marketplace.jobs.schemas import CostsOut, JobCreate, JobOut, JobSpec
from marketplace.models import VIDEO_TYPES, Role

router = APIRouter(prefix="/api/jobs", tags=["jobs"])


@router.post(
    "",
    response_model=JobOut,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(400, 401, 403, 404, 413, 422),
)
def create_job(body: JobCreate, user: RequesterUser, session: SessionDep, settings: SettingsDep) -> JobOut:
    """Create a draft job from a data location (`s3://bucket/prefix` or an allowed local folder)."""
    storage = sources.open_job_data(session, body.data_uri, settings, owner=user)
    job = service.create_job(
        session, user, body, data_uri=storage.uri, storage=storage, gt_raw=body.gt, settings=settings
    )
    return JobOut.model_validate(job)


@router.post(
    "/upload",
    response_model=JobOut,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(400, 401, 403, 413, 422),
)
def create_job_from_upload(
    user: RequesterUser,
    session: SessionDep,
    settings: SettingsDep,
    spec: Annotated[str, Form(description="the job as JSON (the fields of JobCreate without data_uri/gt)")],
    gt: Annotated[UploadFile, File(description="ground truth, COCO JSON")],
    images: Annotated[list[UploadFile], File(description="the images (the videos of a video job)")],
) -> JobOut:
    """Create a draft job from uploaded images and a GT file (multipart form). Each image may be up to
    ``TILEWORK_MAX_IMAGE_BYTES``, each video (video job types) up to ``TILEWORK_MAX_VIDEO_BYTES``."""
    job_spec = uploads.parse_spec(spec, JobSpec)
    gt_raw = uploads.read_limited(gt, settings.max_gt_bytes, "GT file")
    uploads.refuse_unstorable_json(gt_raw, "gt")
    stored = uploads.store_images(images, settings, videos=job_spec.type in VIDEO_TYPES)
    try:
        job = service.create_job(
            session,
            user,
            job_spec,
            data_uri=stored.storage.uri,
            storage=stored.storage,
            gt_raw=gt_raw,
            settings=settings,
        )
    except BaseException:
        stored.discard()
        raise
    return JobOut.model_validate(job)


@router.get("", response_model=list[JobOut], responses=error_responses(401, 403, 422))
def list_jobs(
    user: CurrentUser,
    session: SessionDep,
    limit: Annotated[Limit, Query()] = 50,
    offset: Annotated[Offset, Query()] = 0,
) -> list[JobOut]:
    """Requesters see their own jobs; reviewers and admins see all. Workers use the job board."""
    if user.role is Role.worker:
        raise Forbidden("workers see open jobs on the job board, not the requesters' job list")
    jobs = service.list_jobs_for(session, user, limit=limit, offset=offset)
    return [JobOut.model_validate(j) for j in jobs]


@router.get("/{job_id}", response_model=JobOut, responses=error_responses(401, 403, 404, 422))
def get_job(job_id: Id, user: CurrentUser, session: SessionDep) -> JobOut:
    if user.role is Role.worker:
        raise Forbidden("workers see open jobs on the job board")
    return JobOut.model_validate(service.get_job_for(session, user, job_id))


@router.get("/{job_id}/costs", response_model=CostsOut, responses=error_responses(401, 403, 404, 422))
def job_costs(job_id: Id, user: CurrentUser, session: SessionDep, settings: SettingsDep) -> CostsOut:
    """The job's cost split: expected from its budget (GT at most and at least, the dynamic-overlap
    reserve) and actual from its accepted work (what went to GT, to extra overlap, how many reviews)."""
    if user.role is Role.worker:
        raise Forbidden("workers do not see what a job costs its requester")
    return cost_view.job_costs(session, user, job_id, settings)


@router.post(
    "/{job_id}/cancel", response_model=JobOut, responses=error_responses(401, 403, 404, 409, 422, 502, 503)
)
def cancel_job(job_id: Id, user: RequesterUser, session: SessionDep) -> JobOut:
    """Cancel a job. A draft simply stops; a funded job pays the accepted work, refunds the rest and
    withdraws the open assignments (see ``GET /api/jobs/{id}/books`` for the money)."""
    return JobOut.model_validate(cancellation.cancel_job(session, user, job_id))
