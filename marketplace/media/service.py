"""Reading the images people look at, and making the renditions workers receive.

A worker's image link is ``/files/{item id}``: the same random id the worker already answers with,
looked up on the server, valid exactly while its assignment can be worked on (``assigned`` and before
its deadline). Submitting or losing the assignment ends every link of it; nothing is signed or
encrypted, so there is no key to leak and nothing to forge. Reviewers and requesters read originals
through authenticated routes instead.

Workers only ever receive *serving renditions* (:mod:`marketplace.media.renditions`), made once
when the job is activated and kept in platform storage under random keys: GT and normal images come
from the same storage, through the same code, with the same header set (no file-system
``Last-Modified`` or ``ETag``, one content type, one cache policy). The job's source folder or bucket
is not read again for workers, so changing it after activation changes nothing they see.
"""

from __future__ import annotations

import mimetypes
import secrets
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from marketplace.config import Settings
from marketplace.errors import Forbidden, NotFound, TileworkError
from marketplace.media import repository
from marketplace.media.renditions import CONTENT_TYPE, EXTENSION, BadImage, render
from marketplace.models import AssignmentStatus, utcnow
from marketplace.storage import LocalStorage, Storage, open_storage

CACHE_CONTROL = "private, max-age=300"
RENDITION_PREFIX = "renditions"
INGEST_THREADS = 4
KEY_BYTES = 16


@dataclass(frozen=True)
class FileBody:
    content: bytes
    content_type: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Cache-Control": CACHE_CONTROL, "X-Content-Type-Options": "nosniff"}


def item_url(settings: Settings, token: str) -> str:
    return f"{settings.public_base_url}/files/{token}"


def job_image_url(settings: Settings, image_id: int) -> str:
    return f"{settings.public_base_url}/api/reviews/images/{image_id}"


def review_video_url(settings: Settings, image_id: int) -> str:
    """Where reviewers fetch a video's frame chunks: ``<this>/chunks/{n}``."""
    return f"{settings.public_base_url}/api/reviews/videos/{image_id}"


# -- serving --------------------------------------------------------------------------------------


def worker_file(session: Session, token: str, settings: Settings, now: datetime | None = None) -> FileBody:
    """The rendition behind an item link of an assignment that can still be worked on."""
    now = now or utcnow()
    row = repository.item_file(session, token) if len(token) <= 64 else None
    if row is None or row.status is not AssignmentStatus.assigned or row.deadline <= now or row.key is None:
        raise NotFound("this image link has expired or does not exist")
    return rendition_body(platform_storage(settings), row.key)


def worker_video_chunk(
    session: Session, token: str, index: int, settings: Settings, now: datetime | None = None
) -> FileBody:
    """Frame chunk ``index`` of the video behind a video item link, while its assignment can be worked
    on, and only a chunk that holds frames of the item's segment."""
    now = now or utcnow()
    row = repository.video_item_chunks(session, token) if len(token) <= 64 else None
    if (
        row is None
        or row.status is not AssignmentStatus.assigned
        or row.deadline <= now
        or not row.chunk_keys
    ):
        raise NotFound("this video link has expired or does not exist")
    first, last = row.start_frame // row.chunk_frames, (row.end_frame - 1) // row.chunk_frames
    if not first <= index <= last or index >= len(row.chunk_keys):
        raise NotFound("this video link has expired or does not exist")
    return rendition_body(platform_storage(settings), row.chunk_keys[index])


def review_video_chunk(session: Session, image_id: int, index: int, settings: Settings) -> FileBody:
    """Frame chunk ``index`` of a video, for the reviewers' side-by-side player."""
    keys = repository.video_chunk_keys(session, image_id)
    if keys is None or not 0 <= index < len(keys):
        raise NotFound(f"video {image_id} has no frame chunk {index}")
    return rendition_body(platform_storage(settings), keys[index])


#: what platform storage serves workers, by the key's extension: image renditions, and a video's
#: frame chunks (zips of JPEGs, :mod:`marketplace.media.video`) and manifest
RENDITION_TYPES = {EXTENSION: CONTENT_TYPE, "zip": "application/zip", "json": "application/json"}


def rendition_body(platform: Storage, key: str) -> FileBody:
    """A stored rendition (image, or video chunk or manifest) as served: one header set for all."""
    content_type = RENDITION_TYPES.get(key.rsplit(".", 1)[-1])
    if content_type is None:
        raise NotFound("this file is not served to workers")
    return FileBody(platform.read(key), content_type)


def job_image(session: Session, image_id: int, settings: Settings, *, job_id: int | None = None) -> FileBody:
    """A job's original image for staff views, or (``job_id``) for that job's results browser."""
    row = repository.job_image_file(session, image_id, job_id)
    if row is None:
        raise NotFound(f"image {image_id} not found")
    return read_job_file(row.data_uri, row.name, settings)


def read_job_file(data_uri: str, key: str, settings: Settings) -> FileBody:
    """The bytes of one of a job's original files, from wherever the job's data lives."""
    return FileBody(source_storage(data_uri, settings).read(key), content_type_for(key))


def source_storage(data_uri: str, settings: Settings) -> Storage:
    """Where a job's originals live."""
    storage = open_storage(data_uri, settings)
    if isinstance(storage, LocalStorage) and str(storage.root) != data_uri:
        # Job folders are stored as their real path: one that resolves elsewhere now was moved or
        # replaced by a link after the job was created, and is not what the requester checked in.
        raise Forbidden("this job's data folder changed after the job was created")
    return storage


def platform_storage(settings: Settings) -> Storage:
    """The platform's own storage, where renditions live."""
    return open_storage(settings.effective_storage_url, settings)


def content_type_for(key: str) -> str:
    guessed, _ = mimetypes.guess_type(key)
    return guessed or "application/octet-stream"


# -- ingest ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ToIngest:
    image_id: int
    name: str
    width: int
    height: int


@dataclass(frozen=True)
class IngestFailure:
    name: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"name": self.name, "reason": self.reason}


def images_to_ingest(session: Session, job_id: int) -> list[ToIngest]:
    return [ToIngest(*row) for row in repository.images_without_rendition(session, job_id)]


def ingest_one(
    source: Storage, platform: Storage, job_id: int, item: ToIngest, settings: Settings
) -> dict[str, Any] | IngestFailure:
    """Make and store the rendition of one original; the rendition row to insert, or why not."""
    try:
        size = source.size(item.name)
        if size > settings.max_image_bytes:
            return IngestFailure(item.name, f"{size} bytes is over the {settings.max_image_bytes}-byte limit")
        rendered = render(source.read(item.name), max_pixels=settings.max_image_pixels)
    except BadImage as exc:
        return IngestFailure(item.name, exc.reason)
    except TileworkError as exc:  # gone, unreadable, refused by the storage server
        return IngestFailure(item.name, exc.detail)
    if (rendered.original_width, rendered.original_height) != (item.width, item.height):
        return IngestFailure(
            item.name,
            f"the file changed since the job was created: it was {item.width}x{item.height} pixels, "
            f"it is {rendered.original_width}x{rendered.original_height} now",
        )
    key = f"{RENDITION_PREFIX}/{job_id}/{secrets.token_urlsafe(KEY_BYTES)}.{EXTENSION}"
    platform.write(key, rendered.data)
    return {
        "job_id": job_id,
        "image_id": item.image_id,
        "key": key,
        "width": rendered.width,
        "height": rendered.height,
        "scale": rendered.scale,
        "size_bytes": len(rendered.data),
        "created_at": utcnow(),
    }


def ingest_many(
    source: Storage, platform: Storage, job_id: int, items: Sequence[ToIngest], settings: Settings
) -> Iterator[dict[str, Any] | IngestFailure]:
    """:func:`ingest_one` over ``items``, a few at a time (decoding and encoding release the GIL,
    S3 reads wait on the network); results in ``items`` order."""
    with ThreadPoolExecutor(max_workers=INGEST_THREADS, thread_name_prefix="ingest") as pool:
        yield from pool.map(lambda item: ingest_one(source, platform, job_id, item, settings), items)


def save_renditions(session: Session, job_id: int, rows: Sequence[dict[str, Any]]) -> int:
    """Record made renditions and the job's progress; returns how many the job has now."""
    repository.add_renditions(session, rows)
    done = repository.count_renditions(session, job_id)
    repository.set_ingested_count(session, job_id, done)
    return done


def forget_renditions(session: Session, job_id: int) -> None:
    """Drop a job's rendition rows and video ingests (its activation failed); the objects go after
    the commit."""
    repository.delete_renditions(session, job_id)
    repository.forget_video_ingests(session, job_id)


# -- video ingest ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class VideoToIngest:
    image_id: int
    name: str
    #: the frame count probed when the job was created: its segments were cut from it
    frame_count: int


def videos_to_ingest(session: Session, job_id: int) -> list[VideoToIngest]:
    return [VideoToIngest(*row) for row in repository.videos_not_ingested(session, job_id)]


def video_row(item: VideoToIngest, stored: Any) -> dict[str, Any] | IngestFailure:
    """The ``job_videos`` values of an ingested video (a :class:`StoredVideo`), or why it cannot be
    used: a video that now decodes to another number of frames is not the one the job was cut from."""
    if stored.frame_count != item.frame_count:
        return IngestFailure(
            item.name,
            f"the video changed since the job was created: it had {item.frame_count} frames, "
            f"it has {stored.frame_count} now",
        )
    return {
        "image_id": item.image_id,
        "manifest_key": stored.manifest_key,
        "chunk_keys": stored.chunk_keys,
        "chunk_frames": stored.chunk_frames,
        "frame_width": stored.width,
        "frame_height": stored.height,
        "scale": stored.scale,
    }


def touch_ingest(session: Session, job_id: int) -> None:
    """The job's ingest is still at work (a long video): its progress time moves, its count stays."""
    repository.set_ingested_count(session, job_id, repository.count_ingested_videos(session, job_id))


def save_video(session: Session, job_id: int, row: dict[str, Any]) -> int:
    """Record one ingested video and the job's progress; returns how many the job has now."""
    values = dict(row)
    image_id = values.pop("image_id")
    repository.set_video_ingested(session, image_id, values)
    done = repository.count_ingested_videos(session, job_id)
    repository.set_ingested_count(session, job_id, done)
    return done


def delete_rendition_objects(settings: Settings, job_id: int) -> int:
    return platform_storage(settings).delete_prefix(f"{RENDITION_PREFIX}/{job_id}/")
