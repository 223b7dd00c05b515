"""Reading the images people look at.

A worker's image link is ``/files/{item id}``: the same random id the worker already answers with,
looked up on the server, valid exactly while its assignment can be worked on (``assigned`` and before
its deadline). Submitting or losing the assignment ends every link of it; nothing is signed or
encrypted, so there is no key to leak and nothing to forge. Reviewers read job images through an
authenticated route instead.

Every file goes out with the same header set, whatever it is and wherever it came from: no
file-system ``Last-Modified`` or ``ETag`` (a GT set copied in at another time would stand out), one
cache policy.
"""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from marketplace.config import Settings
from marketplace.errors import Forbidden, NotFound
from marketplace.media import repository
from marketplace.models import AssignmentStatus, utcnow
from marketplace.storage import LocalStorage, open_storage

CACHE_CONTROL = "private, max-age=300"


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


def worker_file(session: Session, token: str, settings: Settings, now: datetime | None = None) -> FileBody:
    now = now or utcnow()
    row = repository.item_file(session, token) if len(token) <= 64 else None
    if row is None or row.status is not AssignmentStatus.assigned or row.deadline <= now:
        raise NotFound("this image link has expired or does not exist")
    return read_job_file(row.data_uri, row.name, settings)


def job_image(session: Session, image_id: int, settings: Settings, *, job_id: int | None = None) -> FileBody:
    """A job image for staff views, or (``job_id``) for that job's results browser."""
    row = repository.job_image_file(session, image_id, job_id)
    if row is None:
        raise NotFound(f"image {image_id} not found")
    return read_job_file(row.data_uri, row.name, settings)


def read_job_file(data_uri: str, key: str, settings: Settings) -> FileBody:
    """The bytes of one of a job's files, from wherever the job's data lives."""
    storage = open_storage(data_uri, settings)
    if isinstance(storage, LocalStorage) and str(storage.root) != data_uri:
        # Job folders are stored as their real path: one that resolves elsewhere now was moved or
        # replaced by a link after the job was created, and is not what the requester checked in.
        raise Forbidden("this job's data folder changed after the job was created")
    return FileBody(storage.read(key), content_type_for(key))


def content_type_for(key: str) -> str:
    guessed, _ = mimetypes.guess_type(key)
    return guessed or "application/octet-stream"
