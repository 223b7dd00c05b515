"""The platform's own storage (``TILEWORK_STORAGE_URL``): is it there, can we write to it, create it.

``tilework storage init`` creates the bucket (or folder); ``/ready`` and ``tilework check`` ask whether
it exists, and ``check`` also writes and deletes a probe object. The probes use a client with short
timeouts and one attempt, so a readiness answer never waits on boto3's retries.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from marketplace.storage import local_path_from_uri

if TYPE_CHECKING:
    from marketplace.config import Settings

PROBE_PREFIX = ".tilework-check/"


@dataclass(frozen=True)
class PlatformStorage:
    """Where the platform's storage is: an S3 bucket and prefix, or a local folder."""

    uri: str
    bucket: str | None = None
    prefix: str = ""
    folder: Path | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> PlatformStorage:
        uri = settings.effective_storage_url
        if uri.startswith("s3://"):
            parts = urlsplit(uri)
            return cls(uri, bucket=parts.netloc, prefix=parts.path.strip("/"))
        return cls(uri, folder=local_path_from_uri(uri))


class StorageProblem(Exception):
    """What is wrong with the platform storage; ``code`` is stable (``bucket_missing``, …)."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


def _probe_client(settings: Settings) -> Any:
    import boto3

    config = Config(
        signature_version="s3v4",
        connect_timeout=2,
        read_timeout=3,
        retries={"max_attempts": 1, "mode": "standard"},
        s3={"addressing_style": "path" if settings.s3_endpoint_url else "auto"},
    )
    return boto3.session.Session().client(
        "s3", endpoint_url=settings.s3_endpoint_url, region_name=settings.s3_region, config=config
    )


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def check_exists(settings: Settings) -> str:
    """Raise :class:`StorageProblem` unless the bucket (or folder) is there; returns a description."""
    where = PlatformStorage.from_settings(settings)
    if where.folder is not None:
        if where.folder.is_dir():
            return f"folder {where.folder}"
        ancestor = next((p for p in where.folder.parents if p.exists()), None)
        if ancestor is not None and os.access(ancestor, os.W_OK):
            return f"folder {where.folder} (made on first write)"
        raise StorageProblem("storage_missing", f"folder {where.folder} does not exist and cannot be made")
    try:
        _probe_client(settings).head_bucket(Bucket=where.bucket)
    except ClientError as exc:
        code = _error_code(exc)
        if code in ("404", "NoSuchBucket", "NotFound"):
            raise StorageProblem(
                "bucket_missing", f"bucket {where.bucket!r} does not exist (run `tilework storage init`)"
            ) from exc
        raise StorageProblem("storage_refused", f"bucket {where.bucket!r}: {code or exc}") from exc
    except BotoCoreError as exc:
        raise StorageProblem("storage_unreachable", f"S3 endpoint not reachable: {exc}") from exc
    return f"bucket {where.bucket}"


def check_writable(settings: Settings) -> None:
    """Write and delete a probe object under the platform prefix."""
    where = PlatformStorage.from_settings(settings)
    name = f"{PROBE_PREFIX}{uuid.uuid4().hex}"
    if where.folder is not None:
        probe = where.folder / name
        try:
            probe.parent.mkdir(parents=True, exist_ok=True)
            probe.write_bytes(b"ok")
            probe.unlink()
        except OSError as exc:
            raise StorageProblem("storage_not_writable", f"folder {where.folder}: {exc}") from exc
        return
    key = f"{where.prefix}/{name}" if where.prefix else name
    client = _probe_client(settings)
    try:
        client.put_object(Bucket=where.bucket, Key=key, Body=b"ok")
        client.delete_object(Bucket=where.bucket, Key=key)
    except (ClientError, BotoCoreError) as exc:
        raise StorageProblem(
            "bucket_not_writable", f"bucket {where.bucket!r} refused a write under {where.prefix!r}: {exc}"
        ) from exc


def init_platform_storage(settings: Settings) -> str:
    """Create the bucket (or folder) if missing; idempotent. Returns what was done."""
    where = PlatformStorage.from_settings(settings)
    if where.folder is not None:
        existed = where.folder.is_dir()
        os.makedirs(where.folder, exist_ok=True)
        return f"folder {where.folder} {'already existed' if existed else 'created'}"
    client = _probe_client(settings)
    try:
        client.head_bucket(Bucket=where.bucket)
        return f"bucket {where.bucket} already existed"
    except ClientError as exc:
        if _error_code(exc) not in ("404", "NoSuchBucket", "NotFound"):
            raise StorageProblem("storage_refused", f"bucket {where.bucket!r}: {exc}") from exc
    params: dict[str, Any] = {"Bucket": where.bucket}
    if settings.s3_region != "us-east-1" and not settings.s3_endpoint_url:
        params["CreateBucketConfiguration"] = {"LocationConstraint": settings.s3_region}
    client.create_bucket(**params)
    return f"bucket {where.bucket} created"
