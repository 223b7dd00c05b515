"""Serves the local storage backend's signed, expiring image URLs."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, Response

from marketplace.deps import SettingsDep
from marketplace.storage.signing import serve_signed_file

router = APIRouter(tags=["files"])


@router.get("/files/{token}")
def signed_file(token: str, settings: SettingsDep) -> Response:
    body, content_type = serve_signed_file(token, settings)
    if isinstance(body, Path):
        return FileResponse(body, media_type=content_type, headers={"Cache-Control": "private, max-age=300"})
    return Response(content=body, media_type=content_type, headers={"Cache-Control": "private, max-age=300"})
