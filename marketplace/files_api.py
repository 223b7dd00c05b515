"""``/files/{item id}``: the images of a worker's assignment, while it can be worked on."""

from __future__ import annotations

from fastapi import APIRouter
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
