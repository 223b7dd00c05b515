"""A video chunk goes out through the workers' file handler (``/files/{item id}``) with the header set
of the image renditions. No job type records video chunks yet: the test points one item's rendition
row at a chunk that ``media.video_ingest`` stored, as a video job's rows will."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select, update

from marketplace.config import Settings
from marketplace.db import session_factory, session_scope
from marketplace.media import service as media
from marketplace.media.video_ingest import StoredVideo, ingest_video
from marketplace.models import AssignmentItem, Rendition
from marketplace.storage import LocalStorage
from tests.assignments.conftest import activate_job_now
from tests.conftest import UserFactory
from tests.media.conftest import MixedJob, fetch_all
from tests.video.videos import make_video

VARYING_HEADERS = {"content-length", "date", "x-request-id"}


def test_a_video_chunk_is_served_like_an_image_rendition(
    client: TestClient, make_user: UserFactory, settings: Settings, mixed_job: MixedJob, tmp_path: Path
) -> None:
    job = mixed_job()
    activate_job_now(settings, job["id"])
    seen = fetch_all(client, make_user, job["id"], workers=1)
    assert seen and seen[0]["response"].status_code == 200
    image_headers = {k: v for k, v in seen[0]["response"].headers.items() if k not in VARYING_HEADERS}

    (tmp_path / "clip.mp4").write_bytes(make_video([i * 40 for i in range(40)]))
    stored = ingest_video(
        LocalStorage(tmp_path), media.platform_storage(settings), job["id"], "clip.mp4", settings, h264=False
    )
    assert isinstance(stored, StoredVideo)
    token = seen[1]["item"]["item_id"]
    with session_scope(session_factory(settings)) as session:
        image_id = session.scalar(select(AssignmentItem.image_id).where(AssignmentItem.token == token))
        session.execute(
            update(Rendition).where(Rendition.image_id == image_id).values(key=stored.chunk_keys[1])
        )

    response = client.get(f"/files/{token}")
    assert response.status_code == 200
    headers = {k: v for k, v in response.headers.items() if k not in VARYING_HEADERS}
    assert headers.pop("content-type") == "application/zip"
    assert image_headers.pop("content-type") == "image/jpeg"
    assert headers == image_headers  # cache policy, nosniff, no Last-Modified / ETag: one header set
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        assert archive.namelist() == [f"{i:06d}.jpg" for i in range(36, 40)]
