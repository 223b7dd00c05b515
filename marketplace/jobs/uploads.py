"""Uploaded job data: stored under ``uploads/<id>/`` in the platform's storage before checking."""

from __future__ import annotations

import json
import os
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import BinaryIO, Protocol, TypeVar

from pydantic import BaseModel, ValidationError

from marketplace.bounds import MAX_FILE_NAME_BYTES, unstorable_text
from marketplace.config import Settings
from marketplace.datasets.intake import check_unique_names
from marketplace.errors import InvalidInput, PayloadTooLarge
from marketplace.storage import Storage, open_storage

M = TypeVar("M", bound=BaseModel)
#: Where ``store_images`` puts a job's files: ``<platform storage>/uploads/<16 hex>``.
UPLOAD_LOCATION = re.compile(r".*/uploads/(?P<id>[0-9a-f]{16})")


def public_data_uri(data_uri: str) -> str:
    """What API answers show of a job's data location: an upload is ``upload:<id>``, never the
    platform storage's folder or bucket."""
    found = UPLOAD_LOCATION.fullmatch(data_uri)
    return f"upload:{found['id']}" if found else data_uri


class Upload(Protocol):
    filename: str | None
    file: BinaryIO


@dataclass
class StoredUpload:
    uri: str
    storage: Storage
    platform: Storage
    prefix: str

    def discard(self) -> None:
        self.platform.delete_prefix(self.prefix)


def read_limited(upload: Upload, limit: int, what: str) -> bytes:
    data = upload.file.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge(f"{what} {upload.filename!r} is larger than {limit} bytes")
    return data


_ESCAPED_UNSTORABLE = re.compile(rb"\\u(0000|d[89a-f][0-9a-f]{2})", re.IGNORECASE)


def refuse_unstorable_json(raw: bytes, field: str) -> None:
    """A JSON file whose strings hold NUL or lone surrogates (escaped; raw ones are not JSON) is refused."""
    if not _ESCAPED_UNSTORABLE.search(raw):
        return
    try:
        problem = unstorable_text(json.loads(raw))
    except ValueError:
        return  # not JSON: the parser that follows says so, with the position
    if problem:
        raise InvalidInput(problem, field=field)


def parse_spec(raw: str, model: type[M]) -> M:
    """A multipart form's JSON ``spec`` field as ``model``; what is wrong with it as a 422."""
    try:
        return model.model_validate(json.loads(raw))
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"spec is not valid JSON: {exc}", field="spec") from exc
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise InvalidInput(problems, field="spec") from exc


def upload_name(upload: Upload) -> str:
    name = PurePosixPath((upload.filename or "").replace("\\", "/")).name
    if not name or name.startswith(".") or "\x00" in name:
        raise InvalidInput(f"uploaded file has no usable name: {upload.filename!r}", field="images")
    if len(name.encode("utf-8", "surrogatepass")) > MAX_FILE_NAME_BYTES:
        raise InvalidInput(
            f"uploaded file name {name[:40]!r}... is longer than {MAX_FILE_NAME_BYTES} bytes", field="images"
        )
    return name


def checked_size(upload: Upload, limit: int, what: str) -> int:
    """The uploaded file's size (it is spooled to disk already), refused when over ``limit``."""
    upload.file.seek(0, os.SEEK_END)
    size = upload.file.tell()
    upload.file.seek(0)
    if size > limit:
        raise PayloadTooLarge(f"{what} {upload.filename!r} is {size} bytes, over the {limit}-byte limit")
    return size


def store_images(uploads: Sequence[Upload], settings: Settings, *, videos: bool = False) -> StoredUpload:
    """Store uploaded images (or, with ``videos``, videos: up to ``max_video_bytes`` each, copied in
    pieces) under a fresh ``uploads/<id>`` prefix; on any failure nothing stays behind."""
    names = [upload_name(u) for u in uploads]
    check_unique_names(names)
    limit, what = (settings.max_video_bytes, "video") if videos else (settings.max_image_bytes, "image")
    for upload in uploads:
        checked_size(upload, limit, what)
    platform = open_storage(settings.effective_storage_url, settings)
    prefix = f"uploads/{secrets.token_hex(8)}"
    try:
        for name, upload in zip(names, uploads, strict=True):
            platform.write_file(f"{prefix}/{name}", upload.file)
    except BaseException:
        platform.delete_prefix(prefix)
        raise
    uri = f"{platform.uri.rstrip('/')}/{prefix}"
    return StoredUpload(uri=uri, storage=open_storage(uri, settings), platform=platform, prefix=prefix)
