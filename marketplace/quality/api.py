"""HTTP routes of the quality engine: results for the requester, quality status, a worker's score."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from fastapi.responses import Response
from pydantic import BaseModel, Field

from marketplace.bounds import Id, Limit, Offset
from marketplace.deps import CurrentUser, SessionDep, SettingsDep, WorkerUser
from marketplace.errors import error_responses
from marketplace.media import service as media
from marketplace.quality import export, results_view, service

router = APIRouter(tags=["quality"])


class ResultFileOut(BaseModel):
    name: str
    content_type: str
    size_bytes: int
    sha256: str
    url: str


class JobQualityOut(BaseModel):
    job_id: int
    status: str
    usable_gt: int
    banned_workers: int
    notices: list[dict[str, Any]]
    disputes: dict[str, dict[str, int]]
    results: list[str]
    workers: list[dict[str, Any]]


class AssignmentQualityOut(BaseModel):
    """What a worker may know about their score: the score and the target, never which items were GT."""

    assignment_id: int
    status: str
    score: float | None
    target: float
    can_appeal: bool
    appeal: dict[str, Any] | None


class MergedObjectOut(BaseModel):
    label: str
    geometry: list[float] | list[list[float]] | None = Field(
        description="[x, y, w, h] (boxes), [x, y] (points), rings [[x0, y0, x1, y1, ...], ...] (polygons)"
    )
    confidence: float
    support: int


class ResultImageOut(BaseModel):
    image_id: int
    name: str
    width: int | None
    height: int | None
    image_url: str
    workers: int = Field(description="accepted answers merged into this image")
    confidence: float = Field(description="of the least sure merged object (0 before anyone worked on it)")
    low_agreement: bool
    objects: list[MergedObjectOut]


class ResultImagesOut(BaseModel):
    job_id: int
    type: str
    labels: list[str]
    total: int
    low_agreement: int
    items: list[ResultImageOut]


class WorkerVersionOut(BaseModel):
    worker_id: int
    assignment_id: int
    status: str
    objects: list[dict[str, Any]]


class ImageVersionsOut(BaseModel):
    image_id: int
    name: str
    width: int | None
    height: int | None
    image_url: str
    merged: list[MergedObjectOut]
    workers: list[WorkerVersionOut]


#: Result files have short plain names (instances.json, summary.json, ...).
ResultName = Annotated[str, Path(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]


@router.get(
    "/api/jobs/{job_id}/results",
    response_model=list[ResultFileOut],
    responses=error_responses(401, 403, 404, 422),
)
def list_results(
    job_id: Id, user: CurrentUser, session: SessionDep, settings: SettingsDep
) -> list[ResultFileOut]:
    """The exported result files of a completed job (its requester only)."""
    return [ResultFileOut(**f) for f in export.result_files_for(session, user, job_id, settings)]


@router.get(
    "/api/jobs/{job_id}/results/{name}",
    responses={
        200: {"description": "the file", "content": {"application/octet-stream": {}}},
        **error_responses(401, 403, 404, 422),
    },
)
def download_result(
    job_id: Id, name: ResultName, user: CurrentUser, session: SessionDep, settings: SettingsDep
) -> Response:
    data, content_type = export.read_result(session, user, job_id, name, settings)
    return Response(
        content=data,
        media_type=content_type,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get(
    "/api/jobs/{job_id}/quality", response_model=JobQualityOut, responses=error_responses(401, 403, 404, 422)
)
def job_quality(job_id: Id, user: CurrentUser, session: SessionDep) -> JobQualityOut:
    """Why a job is paused, how many disputes it has, how many workers were stopped."""
    return JobQualityOut(**service.job_quality(session, user, job_id))


@router.get(
    "/api/assignments/{assignment_id}/quality",
    response_model=AssignmentQualityOut,
    responses=error_responses(401, 403, 404, 422),
)
def assignment_quality(assignment_id: Id, user: WorkerUser, session: SessionDep) -> AssignmentQualityOut:
    return AssignmentQualityOut(**service.assignment_quality(session, user, assignment_id))


@router.get(
    "/api/jobs/{job_id}/result-images",
    response_model=ResultImagesOut,
    responses=error_responses(401, 403, 404, 409, 422),
)
def result_images(
    job_id: Id,
    user: CurrentUser,
    session: SessionDep,
    order: results_view.Order = "least_sure",
    low_only: bool = False,
    limit: Limit = 48,
    offset: Offset = 0,
) -> ResultImagesOut:
    """The results browser: each data image with its merged objects, least sure first (the job's
    requester only; while the job runs it shows the merge so far)."""
    page = results_view.browse(
        session, user, job_id, order=order, low_only=low_only, limit=limit, offset=offset
    )
    return ResultImagesOut(**page)


@router.get(
    "/api/jobs/{job_id}/result-images/{image_id}",
    response_model=ImageVersionsOut,
    responses=error_responses(401, 403, 404, 409, 422),
)
def result_image_versions(
    job_id: Id, image_id: Id, user: CurrentUser, session: SessionDep
) -> ImageVersionsOut:
    """One image: the merged objects and every worker's scored version."""
    return ImageVersionsOut(**results_view.versions(session, user, job_id, image_id))


@router.get(
    "/api/jobs/{job_id}/images/{image_id}",
    responses={
        200: {"description": "the image", "content": {"image/*": {}, "application/octet-stream": {}}},
        **error_responses(401, 403, 404, 422),
    },
)
def job_image(
    job_id: Id, image_id: Id, user: CurrentUser, session: SessionDep, settings: SettingsDep
) -> Response:
    """An image of the caller's own job, for the results browser."""
    export.requester_job(session, user, job_id)
    body = media.job_image(session, image_id, settings, job_id=job_id)
    return Response(content=body.content, media_type=body.content_type, headers=body.headers)
