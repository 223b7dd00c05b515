"""``/files/{item id}``: the images of a worker's assignment, while it can be worked on, and
``/files/{item id}/chunks/{n}``: the frame chunks of a video item's segment."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import Response

from marketplace.deps import SessionDep, SettingsDep
from marketplace.errors import error_responses
from marketplace.media import service as media

router = APIRouter(tags=["files"])


@router.get(
    "/files/{token}",
    responses={
        200: {"description": "the file", "content": {"image/*": {}, "application/octet-stream": {}}},
        **error_responses(403, 404, 422),
    },
)
def assignment_file(token: str, session: SessionDep, settings: SettingsDep) -> Response:
    """An item's image; 404 once its assignment is submitted, expired or gone."""
    body = media.worker_file(session, token, settings)
    return Response(content=body.content, media_type=body.content_type, headers=body.headers)


@router.get(
    "/files/{token}/chunks/{index}",
    responses={
        200: {"description": "a zip of frame JPEGs", "content": {"application/zip": {}}},
        **error_responses(404, 422),
    },
)
def assignment_video_chunk(
    token: str, index: Annotated[int, Path(ge=0, le=1_000_000)], session: SessionDep, settings: SettingsDep
) -> Response:
    """A video item's frame chunk ``index`` (frame ``k`` is member ``k`` of chunk ``k // chunk_frames``),
    only one that holds frames of the item's segment; 404 once its assignment is submitted, expired or
    gone."""
    body = media.worker_video_chunk(session, token, index, settings)
    return Response(content=body.content, media_type=body.content_type, headers=body.headers)
