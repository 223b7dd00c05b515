"""Object storage: one interface over a local folder and S3, plus image probing.

``open_storage(uri, settings)`` maps a location to a backend:

* ``s3://bucket/prefix`` → :class:`S3Storage` (endpoint ``settings.s3_endpoint_url``, region
  ``settings.s3_region``, credentials from the normal AWS env vars / boto3 chain);
* ``/a/folder``, ``relative/folder``, ``~/folder`` or ``file:///a/folder`` → :class:`LocalStorage`.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from marketplace.errors import InvalidInput
from marketplace.storage.base import IMAGE_EXTENSIONS, ObjectInfo, Storage, is_image_key
from marketplace.storage.images import ImageInfo, iter_probed_images, probe_image, probe_image_bytes
from marketplace.storage.local import LocalStorage
from marketplace.storage.s3 import S3Storage, make_s3_client

if TYPE_CHECKING:
    from marketplace.config import Settings

__all__ = [
    "IMAGE_EXTENSIONS",
    "ImageInfo",
    "LocalStorage",
    "ObjectInfo",
    "S3Storage",
    "Storage",
    "is_image_key",
    "iter_probed_images",
    "local_path_from_uri",
    "open_storage",
    "probe_image",
    "probe_image_bytes",
]


def local_path_from_uri(uri: str) -> Path:
    """``file:///x`` or ``file://localhost/x`` or a plain path → a Path (not resolved)."""
    if uri.startswith("file:"):
        parts = urlsplit(uri)
        if parts.netloc not in ("", "localhost"):
            raise InvalidInput(f"file:// location {uri!r} must be on this machine (no host part)")
        if not parts.path:
            raise InvalidInput(f"file:// location {uri!r} has no path")
        return Path(unquote(parts.path))
    return Path(uri).expanduser()


_AWS_CREDENTIAL_ENV = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE")


@lru_cache(maxsize=16)
def _shared_s3_client(endpoint_url: str | None, region: str, _credentials_env: tuple[str | None, ...]) -> Any:
    """One boto3 client per endpoint/region/credentials, shared by every request of the process.

    Building a client costs ~0.2-0.4 s of CPU; ``/files/{token}`` opens the storage for every image a
    worker loads, so a fresh client per call capped an S3-backed server at a few images per second.
    boto3 clients are thread-safe."""
    return make_s3_client(endpoint_url, region)


def _open_s3(uri: str, settings: Settings) -> S3Storage:
    parts = urlsplit(uri)
    if not parts.netloc:
        raise InvalidInput(f"storage location {uri!r} has no bucket (expected s3://bucket/prefix)")
    credentials_env = tuple(os.environ.get(name) for name in _AWS_CREDENTIAL_ENV)
    client = _shared_s3_client(settings.s3_endpoint_url, settings.s3_region, credentials_env)
    return S3Storage(parts.netloc, parts.path.lstrip("/"), client=client)


def open_storage(uri: str, settings: Settings) -> Storage:
    """The storage backend and root for a data location."""
    uri = uri.strip()
    if not uri:
        raise InvalidInput("storage location must not be empty")
    scheme = urlsplit(uri).scheme.lower() if "://" in uri or uri.startswith("file:") else ""
    if scheme == "s3":
        return _open_s3(uri, settings)
    if scheme in ("", "file"):
        return LocalStorage(local_path_from_uri(uri))
    raise InvalidInput(f"unsupported storage location {uri!r}: use a local folder or s3://bucket/prefix")
