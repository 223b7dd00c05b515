"""A job's video ingested into platform storage (marketplace/media/video_ingest.py) and read back the
way workers read image renditions (marketplace.media.service.rendition_body, behind /files/)."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from marketplace.config import Settings
from marketplace.errors import BadGateway, NotFound
from marketplace.media.renditions import CONTENT_TYPE
from marketplace.media.service import FileBody, IngestFailure, rendition_body
from marketplace.media.video_ingest import StoredVideo, ingest_video
from marketplace.storage import LocalStorage
from tests.video.videos import make_video, read_barcode

JOB = 7
FRAMES = 45


@pytest.fixture
def stores(tmp_path: Path) -> tuple[LocalStorage, LocalStorage, Settings]:
    source, platform = tmp_path / "source", tmp_path / "platform"
    source.mkdir()
    platform.mkdir()
    (source / "clip.mp4").write_bytes(make_video([i * 40 for i in range(FRAMES)]))
    (source / "broken.mp4").write_bytes(make_video([i * 40 for i in range(FRAMES)])[:3000])
    settings = Settings(home=tmp_path, storage_url=str(platform))
    return LocalStorage(source), LocalStorage(platform), settings


def stored_keys(platform: LocalStorage) -> list[str]:
    return sorted(o.key for o in platform.iter_objects(""))


def test_a_video_is_stored_as_chunks_and_a_manifest_served_like_image_renditions(
    stores: tuple[LocalStorage, LocalStorage, Settings],
) -> None:
    source, platform, settings = stores
    progress: list[tuple[int, int]] = []
    stored = ingest_video(
        source, platform, JOB, "clip.mp4", settings, progress=lambda d, t: progress.append((d, t))
    )
    assert isinstance(stored, StoredVideo)
    assert (stored.frame_count, stored.fps, stored.width, stored.height) == (FRAMES, "25/1", 160, 96)
    assert progress[-1] == (FRAMES, FRAMES) and len(progress) == 2
    keys = stored_keys(platform)
    assert sorted([stored.manifest_key, *stored.chunk_keys, str(stored.h264_key)]) == keys
    assert all(k.startswith(f"renditions/{JOB}/") for k in keys)
    assert len({k.rsplit("/", 1)[0] for k in keys}) == 1  # one folder per video
    assert all(len(k.rsplit("/", 1)[1].split(".")[0]) >= 22 for k in keys)  # random names

    image_headers = FileBody(b"", CONTENT_TYPE).headers
    manifest_body = rendition_body(platform, stored.manifest_key)
    assert manifest_body.content_type == "application/json" and manifest_body.headers == image_headers
    manifest = json.loads(manifest_body.content)
    assert manifest["chunks"] == stored.chunk_keys and manifest["frame_count"] == FRAMES
    assert [f["i"] for f in manifest["frames"]] == list(range(FRAMES))

    total = 0
    for k, key in enumerate(manifest["chunks"]):
        body = rendition_body(platform, key)
        assert body.content_type == "application/zip" and body.headers == image_headers
        total += len(body.content)
        with zipfile.ZipFile(io.BytesIO(body.content)) as archive:
            for member in archive.namelist():
                index = int(member.split(".")[0])
                assert index // manifest["chunk_frames"] == k
                rgb = np.asarray(Image.open(io.BytesIO(archive.read(member))).convert("RGB"))
                assert read_barcode(rgb) == index
    assert total == stored.chunk_bytes
    with pytest.raises(NotFound):  # the H.264 copy is for export, not for workers
        rendition_body(platform, str(stored.h264_key))


def test_two_ingests_of_one_video_share_no_key(stores: tuple[LocalStorage, LocalStorage, Settings]) -> None:
    source, platform, settings = stores
    a = ingest_video(source, platform, JOB, "clip.mp4", settings, h264=False)
    b = ingest_video(source, platform, JOB, "clip.mp4", settings, h264=False)
    assert isinstance(a, StoredVideo) and isinstance(b, StoredVideo)
    assert a.h264_key is None
    assert not {a.manifest_key, *a.chunk_keys} & {b.manifest_key, *b.chunk_keys}
    assert (
        rendition_body(platform, a.chunk_keys[1]).content == rendition_body(platform, b.chunk_keys[1]).content
    )


def test_a_video_that_cannot_be_used_leaves_nothing_and_says_why(
    stores: tuple[LocalStorage, LocalStorage, Settings],
) -> None:
    source, platform, settings = stores
    failed = ingest_video(source, platform, JOB, "broken.mp4", settings)
    assert isinstance(failed, IngestFailure) and failed.name == "broken.mp4" and failed.reason
    small = settings.model_copy(update={"max_video_bytes": 1000})
    too_big = ingest_video(source, platform, JOB, "clip.mp4", small)
    assert isinstance(too_big, IngestFailure) and "1000-byte limit" in too_big.reason
    short = settings.model_copy(update={"max_video_seconds": 1.0})
    too_long = ingest_video(source, platform, JOB, "clip.mp4", short)
    assert isinstance(too_long, IngestFailure) and "second limit" in too_long.reason
    gone = ingest_video(source, platform, JOB, "missing.mp4", settings)
    assert isinstance(gone, IngestFailure)
    assert stored_keys(platform) == []


class RefusesManifests(LocalStorage):
    """Platform storage that fails (as an S3 server may) once the chunks are written."""

    def write(self, key: str, data: bytes) -> None:
        if key.endswith(".json"):
            raise BadGateway("the storage server refused the write")
        super().write(key, data)


def test_a_storage_failure_after_the_chunks_removes_them(
    stores: tuple[LocalStorage, LocalStorage, Settings],
) -> None:
    source, platform, settings = stores
    writes: list[str] = []
    flaky = RefusesManifests(platform.root)
    failed = ingest_video(
        source, flaky, JOB, "clip.mp4", settings, progress=lambda d, t: writes.append("chunk")
    )
    assert isinstance(failed, IngestFailure) and "refused" in failed.reason
    assert writes  # chunks had been stored before the failure
    assert stored_keys(platform) == []
