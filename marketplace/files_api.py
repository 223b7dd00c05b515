"""Serves the local storage backend's signed, expiring image URLs."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, Response

from marketplace.deps import SettingsDep
from marketplace.errors import error_responses
from marketplace.storage.signing import serve_signed_file

router = APIRouter(tags=["files"])


@router.get(
    "/files/{token}",
    responses={
        200: {"description": "the file", "content": {"image/*": {}, "application/octet-stream": {}}},
        **error_responses(403, 404, 422),
    },
)
def signed_file(token: str, settings: SettingsDep) -> Response:
    body, content_type = serve_signed_file(token, settings)
    if isinstance(body, Path):
        return FileResponse(body, media_type=content_type, headers={"Cache-Control": "private, max-age=300"})
    return Response(content=body, media_type=content_type, headers={"Cache-Control": "private, max-age=300"})
