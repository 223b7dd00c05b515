"""HTTP routes of the reviewers' backend and of worker appeals: parse, authorise, call the service."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from marketplace.deps import ReviewerUser, SessionDep, SettingsDep, WorkerUser
from marketplace.flows import review_decision
from marketplace.media import service as media
from marketplace.models import DisputeKind, DisputeStatus
from marketplace.reviews import service
from marketplace.reviews.schemas import AppealIn, AppealOut, DecisionIn, DisputeDetailOut, DisputeOut

router = APIRouter(tags=["reviews"])


@router.post("/api/assignments/{assignment_id}/appeal", response_model=AppealOut, status_code=201)
def appeal(assignment_id: int, body: AppealIn, user: WorkerUser, session: SessionDep) -> AppealOut:
    """Appeal one of my rejected assignments (once), with a comment for the reviewer."""
    return service.appeal(session, user, assignment_id, body.comment)


@router.get("/api/appeals/mine", response_model=list[AppealOut])
def my_appeals(user: WorkerUser, session: SessionDep) -> list[AppealOut]:
    return service.my_appeals(session, user)


@router.get("/api/reviews/disputes", response_model=list[DisputeOut])
def list_disputes(
    user: ReviewerUser,
    session: SessionDep,
    kind: DisputeKind | None = None,
    status: DisputeStatus | None = None,
    job_id: int | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[DisputeOut]:
    """The reviewers' queue, oldest first; filter by kind, status and job."""
    return service.list_disputes(session, kind=kind, status=status, job_id=job_id, limit=limit, offset=offset)


@router.get("/api/reviews/disputes/{dispute_id}", response_model=DisputeDetailOut)
def get_dispute(
    dispute_id: int, user: ReviewerUser, session: SessionDep, settings: SettingsDep
) -> DisputeDetailOut:
    """One dispute with its history and everything needed to judge it."""
    return service.get_dispute(session, dispute_id, settings)


@router.post("/api/reviews/disputes/{dispute_id}/decide", response_model=DisputeDetailOut)
def decide(
    dispute_id: int, body: DecisionIn, user: ReviewerUser, session: SessionDep, settings: SettingsDep
) -> DisputeDetailOut:
    """Decide once: uphold, overturn, fix_gt_label, retire_gt, restore_gt, ban_worker or reopen_chunk."""
    return review_decision.decide(session, user, dispute_id, body, settings)


@router.get("/api/reviews/images/{image_id}")
def review_image(image_id: int, user: ReviewerUser, session: SessionDep, settings: SettingsDep) -> Response:
    """A job image for the reviewers' views (GT images included): reviewers and admins only."""
    body = media.job_image(session, image_id, settings)
    return Response(content=body.content, media_type=body.content_type, headers=body.headers)
