"""Whose data a job may read. Over HTTP a job reads only data its requester owns:

* a local folder under ``<root>/<requester id>/`` of one of ``TILEWORK_LOCAL_DATA_ROOTS`` (the operator
  gives each requester a folder of their own), or under ``TILEWORK_PUBLIC_DATA_ROOTS`` (data the
  operator publishes to every requester on purpose, such as public datasets);
* an S3 prefix the requester has proven to own: they register it, write the object
  ``<prefix>/tilework-owner.txt`` holding the token they were given, and ask for verification, which
  reads that object with the platform's credentials. Only someone who can write to the bucket can pass;
* uploads, which the platform stores for the uploading requester itself.

The platform's own storage (its bucket, or its local storage folder) is never a job source. The
command line, run by the operator, may read any location (``owner=None``).
"""

from __future__ import annotations

import hmac
import secrets
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from marketplace.bounds import S3_BUCKET
from marketplace.config import Settings
from marketplace.datasets import repository
from marketplace.errors import (
    DataNotOwned,
    InvalidInput,
    NotFound,
    ProofMismatch,
    ProofMissing,
    TileworkError,
)
from marketplace.models import DataSource, User, utcnow
from marketplace.storage import Storage, local_path_from_uri, open_storage

PROOF_NAME = "tilework-owner.txt"


def s3_location(uri: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` → ``("bucket", "some/prefix/")`` (prefix empty or ending in ``/``)."""
    parts = urlsplit(uri.strip())
    if parts.scheme.lower() != "s3" or not S3_BUCKET.fullmatch(parts.netloc):
        raise InvalidInput(f"{uri!r} is not an s3://bucket/prefix location", field="uri")
    if parts.query or parts.fragment:
        raise InvalidInput(f"{uri!r} must not carry a query or fragment", field="uri")
    segments = [s for s in parts.path.split("/") if s]
    if any(s in (".", "..") for s in segments):
        raise InvalidInput(f"{uri!r} must not contain '.' or '..' segments", field="uri")
    prefix = "/".join(segments)
    return parts.netloc, prefix + "/" if prefix else ""


def _normalised(bucket: str, prefix: str) -> str:
    return f"s3://{bucket}/{prefix}"


def _platform_bucket(settings: Settings) -> str | None:
    storage_url = settings.effective_storage_url
    return s3_location(storage_url)[0] if storage_url.startswith("s3://") else None


def _refuse_platform_bucket(bucket: str, settings: Settings) -> None:
    if bucket == _platform_bucket(settings):
        raise DataNotOwned(
            f"s3://{bucket} is the platform's own storage; it is never a job's data source", field="data_uri"
        )


# -- registering and proving an S3 prefix ----------------------------------------------------------


def register(session: Session, owner: User, uri: str, settings: Settings) -> DataSource:
    """Start proving ownership of an S3 prefix; idempotent per owner and prefix."""
    bucket, prefix = s3_location(uri)
    _refuse_platform_bucket(bucket, settings)
    normalised = _normalised(bucket, prefix)
    existing = repository.source_of(session, owner.id, normalised)
    if existing is not None:
        return existing
    source = DataSource(owner_id=owner.id, uri=normalised, token=secrets.token_hex(16))
    repository.add_source(session, source)
    return source


def verify(session: Session, owner: User, source_id: int, settings: Settings) -> DataSource:
    """Read the proof object of a registered prefix and compare its token; verified on a match."""
    source = repository.get_source(session, source_id)
    if source is None or source.owner_id != owner.id:
        raise NotFound(f"data source {source_id} not found")
    if source.verified_at is not None:
        return source
    proof = f"{source.uri}{PROOF_NAME}"
    try:
        body = open_storage(source.uri, settings).read(PROOF_NAME)
    except TileworkError as exc:
        raise ProofMissing(
            f"could not read {proof}: {exc.detail}; write the token there first",
        ) from exc
    if not hmac.compare_digest(body.decode("utf-8", "replace").strip(), source.token):
        raise ProofMismatch(f"{proof} does not hold this source's token")
    source.verified_at = utcnow()
    return source


def list_sources(session: Session, owner: User) -> list[DataSource]:
    return repository.sources_of(session, owner.id)


# -- what a job may read ---------------------------------------------------------------------------


def open_job_data(session: Session, data_uri: str, settings: Settings, *, owner: User | None) -> Storage:
    """Open a job's data location, refusing what ``owner`` does not own (``None``: the operator)."""
    if data_uri.startswith("s3://"):
        bucket, prefix = s3_location(data_uri)
        if owner is not None:
            _refuse_platform_bucket(bucket, settings)
            _check_s3_owned(session, owner, bucket, prefix)
        return open_storage(data_uri, settings)
    path = local_path_from_uri(data_uri)
    if not path.is_absolute():
        raise InvalidInput("a local data folder must be an absolute path", field="data_uri")
    real = path.resolve()
    if owner is not None:
        _check_local_owned(owner, real, settings)
    if not real.is_dir():
        raise InvalidInput(f"data folder {data_uri!r} does not exist", field="data_uri")
    return open_storage(str(real), settings)


def _check_s3_owned(session: Session, owner: User, bucket: str, prefix: str) -> None:
    for source in repository.verified_sources_in_bucket(session, owner.id, f"s3://{bucket}/"):
        if prefix.startswith(s3_location(source.uri)[1]):
            return
    raise DataNotOwned(
        f"s3://{bucket}/{prefix} is not under an S3 location you have proven to own: register it with "
        f"POST /api/data-sources, write the token to {PROOF_NAME} there, then verify it",
        field="data_uri",
    )


def _check_local_owned(owner: User, real: Path, settings: Settings) -> None:
    platform = settings.effective_storage_url
    if not platform.startswith("s3://") and real.is_relative_to(Path(platform).resolve()):
        raise DataNotOwned("the platform's own storage is never a job's data source", field="data_uri")
    mine = [root.resolve() / str(owner.id) for root in settings.local_data_roots]
    public = [root.resolve() for root in settings.public_data_roots]
    if any(real.is_relative_to(root) for root in mine + public):
        return
    raise DataNotOwned(
        "this server reads local folders only under your own folder of TILEWORK_LOCAL_DATA_ROOTS "
        f"(<root>/{owner.id}/) or under TILEWORK_PUBLIC_DATA_ROOTS; upload the images or use an "
        "s3://bucket/prefix you have proven to own",
        field="data_uri",
    )
