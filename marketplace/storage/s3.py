"""Storage in an S3 bucket (AWS, or any S3-compatible server: SeaweedFS, MinIO, …)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, BinaryIO

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from marketplace.errors import Forbidden, InvalidInput, NotFound, TileworkError
from marketplace.storage.base import (
    LIST_PAGE_SIZE,
    ObjectInfo,
    Storage,
    normalize_key,
    normalize_prefix,
    require_nonempty_prefix,
)

_NOT_FOUND_CODES = {"404", "NoSuchKey", "NoSuchBucket", "NotFound"}
_DENIED_CODES = {"403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "Forbidden"}
DELETE_BATCH = 1000  # DeleteObjects accepts at most 1000 keys per request


def make_s3_client(endpoint_url: str | None, region: str, *, max_pool_connections: int = 32) -> Any:
    """A boto3 S3 client; credentials come from the usual AWS env vars / config / role chain.

    A custom endpoint (SeaweedFS, MinIO) gets path-style addressing, which those servers expect.
    """
    config = Config(
        signature_version="s3v4",
        max_pool_connections=max_pool_connections,
        retries={"max_attempts": 3, "mode": "standard"},
        s3={"addressing_style": "path" if endpoint_url else "auto"},
    )
    return boto3.session.Session().client("s3", endpoint_url=endpoint_url, region_name=region, config=config)


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _translate(exc: ClientError, what: str) -> TileworkError:
    code = _error_code(exc)
    if code in _NOT_FOUND_CODES:
        return NotFound(f"{what} not found ({code})")
    if code in _DENIED_CODES:
        return Forbidden(f"access to {what} was refused by the storage server ({code})")
    return InvalidInput(f"storage error on {what}: {code or exc}")


class S3Storage(Storage):
    """Objects are ``s3://{bucket}/{prefix}{key}``; keys are relative to ``prefix``."""

    def __init__(self, bucket: str, prefix: str = "", *, client: Any) -> None:
        if not bucket:
            raise InvalidInput("an s3:// location needs a bucket name")
        prefix = normalize_prefix(prefix)
        self.bucket = bucket
        self.prefix = f"{prefix}/" if prefix and not prefix.endswith("/") else prefix
        self.uri = f"s3://{bucket}/{self.prefix}"
        self.client = client

    def _full(self, key: str) -> str:
        return self.prefix + normalize_key(key)

    def _describe(self, key: str) -> str:
        return f"s3://{self.bucket}/{self.prefix}{key}"

    # -- listing -----------------------------------------------------------------------------

    def iter_objects(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """One ListObjectsV2 page (1000 keys) at a time, so 100k+ objects never sit in memory."""
        full_prefix = self.prefix + normalize_prefix(prefix)
        paginator = self.client.get_paginator("list_objects_v2")
        pages = paginator.paginate(
            Bucket=self.bucket, Prefix=full_prefix, PaginationConfig={"PageSize": LIST_PAGE_SIZE}
        )
        cut = len(self.prefix)
        try:
            for page in pages:
                for item in page.get("Contents", []):
                    yield ObjectInfo(item["Key"][cut:], int(item["Size"]))
        except ClientError as exc:
            raise _translate(exc, f"s3://{self.bucket}/{full_prefix}") from exc

    # -- reading and writing -----------------------------------------------------------------

    def read_head(self, key: str, n: int) -> bytes:
        """A ranged GET (``Range: bytes=0-(n-1)``): only the head crosses the network."""
        full = self._full(key)
        if n <= 0:
            return b""
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=full, Range=f"bytes=0-{n - 1}")
        except ClientError as exc:
            if _error_code(exc) == "InvalidRange":  # an empty object has no byte 0
                return b""
            raise _translate(exc, self._describe(key)) from exc
        return bytes(response["Body"].read())

    def read(self, key: str) -> bytes:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self._full(key))
        except ClientError as exc:
            raise _translate(exc, self._describe(key)) from exc
        return bytes(response["Body"].read())

    def _head(self, key: str) -> dict[str, Any] | None:
        try:
            return dict(self.client.head_object(Bucket=self.bucket, Key=self._full(key)))
        except ClientError as exc:
            if _error_code(exc) in _NOT_FOUND_CODES:
                return None
            raise _translate(exc, self._describe(key)) from exc

    def size(self, key: str) -> int:
        head = self._head(key)
        if head is None:
            raise NotFound(f"object {self._describe(key)} not found")
        return int(head["ContentLength"])

    def exists(self, key: str) -> bool:
        return self._head(key) is not None

    def write(self, key: str, data: bytes) -> None:
        try:
            self.client.put_object(Bucket=self.bucket, Key=self._full(key), Body=data)
        except ClientError as exc:
            raise _translate(exc, self._describe(key)) from exc

    def write_file(self, key: str, source: BinaryIO) -> None:
        """boto3's managed transfer: multipart in pieces for a large file."""
        try:
            self.client.upload_fileobj(source, self.bucket, self._full(key))
        except ClientError as exc:
            raise _translate(exc, self._describe(key)) from exc

    def delete_prefix(self, prefix: str) -> int:
        """Batched DeleteObjects (1000 keys per request) over the listing."""
        prefix = require_nonempty_prefix(prefix)
        deleted = 0
        batch: list[str] = []
        for obj in self.iter_objects(prefix):
            batch.append(self.prefix + obj.key)
            if len(batch) == DELETE_BATCH:
                deleted += self._delete_batch(batch)
                batch = []
        if batch:
            deleted += self._delete_batch(batch)
        return deleted

    def _delete_batch(self, keys: list[str]) -> int:
        try:
            response = self.client.delete_objects(
                Bucket=self.bucket, Delete={"Objects": [{"Key": k} for k in keys], "Quiet": True}
            )
        except ClientError as exc:
            raise _translate(exc, f"s3://{self.bucket}/{keys[0]}…") from exc
        errors = response.get("Errors") or []
        if errors:
            first = errors[0]
            raise InvalidInput(
                f"could not delete {len(errors)} object(s), e.g. {first.get('Key')}: {first.get('Code')}"
            )
        return len(keys)
