"""HTTP routes of the reviewers' backend and of worker appeals: parse, authorise, call the service."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response

from marketplace.bounds import Id, Limit, Offset
from marketplace.deps import ReviewerUser, SessionDep, SettingsDep, WorkerUser
from marketplace.errors import error_responses
from marketplace.flows import dispute_view, review_decision
from marketplace.media import service as media
from marketplace.models import DisputeKind, DisputeStatus
from marketplace.reviews import service
from marketplace.reviews.schemas import AppealIn, AppealOut, DecisionIn, DisputeDetailOut, DisputeOut

router = APIRouter(tags=["reviews"])


@router.post(
    "/api/assignments/{assignment_id}/appeal",
    response_model=AppealOut,
    status_code=201,
    responses=error_responses(400, 401, 403, 404, 409, 413, 422),
)
def appeal(assignment_id: Id, body: AppealIn, user: WorkerUser, session: SessionDep) -> AppealOut:
    """Appeal one of my rejected assignments (once), with a comment for the reviewer."""
    return service.appeal(session, user, assignment_id, body.comment)


@router.get("/api/appeals/mine", response_model=list[AppealOut], responses=error_responses(401, 403))
def my_appeals(user: WorkerUser, session: SessionDep) -> list[AppealOut]:
    return service.my_appeals(session, user)


@router.get(
    "/api/reviews/disputes", response_model=list[DisputeOut], responses=error_responses(401, 403, 422)
)
def list_disputes(
    user: ReviewerUser,
    session: SessionDep,
    kind: DisputeKind | None = None,
    status: DisputeStatus | None = None,
    job_id: Annotated[Id | None, Query()] = None,
    limit: Annotated[Limit, Query()] = 100,
    offset: Annotated[Offset, Query()] = 0,
) -> list[DisputeOut]:
    """The reviewers' queue, oldest first; filter by kind, status and job."""
    return service.list_disputes(session, kind=kind, status=status, job_id=job_id, limit=limit, offset=offset)


@router.get(
    "/api/reviews/disputes/{dispute_id}",
    response_model=DisputeDetailOut,
    responses=error_responses(401, 403, 404, 422),
)
def get_dispute(
    dispute_id: Id, user: ReviewerUser, session: SessionDep, settings: SettingsDep
) -> DisputeDetailOut:
    """One dispute with its history and everything needed to judge it."""
    return dispute_view.get_dispute(session, dispute_id, settings)


@router.post(
    "/api/reviews/disputes/{dispute_id}/decide",
    response_model=DisputeDetailOut,
    responses=error_responses(400, 401, 403, 404, 409, 413, 422),
)
def decide(
    dispute_id: Id, body: DecisionIn, user: ReviewerUser, session: SessionDep, settings: SettingsDep
) -> DisputeDetailOut:
    """Decide once: uphold, overturn, fix_gt_label, retire_gt, restore_gt, ban_worker or reopen_chunk."""
    return review_decision.decide(session, user, dispute_id, body, settings)


@router.get(
    "/api/reviews/images/{image_id}",
    responses={
        200: {"description": "the image", "content": {"image/*": {}, "application/octet-stream": {}}},
        **error_responses(401, 403, 404, 422),
    },
)
def review_image(image_id: Id, user: ReviewerUser, session: SessionDep, settings: SettingsDep) -> Response:
    """A job image for the reviewers' views (GT images included): reviewers and admins only."""
    body = media.job_image(session, image_id, settings)
    return Response(content=body.content, media_type=body.content_type, headers=body.headers)


@router.get(
    "/api/reviews/videos/{image_id}/chunks/{index}",
    responses={
        200: {"description": "a zip of the chunk's frames as JPEGs", "content": {"application/zip": {}}},
        **error_responses(401, 403, 404, 422),
    },
)
def review_video_chunk(
    image_id: Id,
    index: Annotated[int, Path(ge=0, le=1_000_000)],
    user: ReviewerUser,
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    """A frame chunk of a job's video, for the reviewers' player: reviewers and admins only."""
    body = media.review_video_chunk(session, image_id, index, settings)
    return Response(content=body.content, media_type=body.content_type, headers=body.headers)
