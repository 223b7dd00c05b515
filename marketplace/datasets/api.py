"""``/api/data-sources``: a requester proves which S3 locations are theirs before jobs read them."""

from __future__ import annotations

from fastapi import APIRouter, status

from marketplace.bounds import Id
from marketplace.datasets import sources
from marketplace.datasets.schemas import DataSourceIn, DataSourceOut
from marketplace.deps import RequesterUser, SessionDep, SettingsDep
from marketplace.errors import error_responses
from marketplace.models import DataSource

router = APIRouter(prefix="/api/data-sources", tags=["data"])


def _out(source: DataSource) -> DataSourceOut:
    return DataSourceOut(
        id=source.id,
        uri=source.uri,
        verified=source.verified_at is not None,
        verified_at=source.verified_at,
        token=source.token,
        proof_uri=f"{source.uri}{sources.PROOF_NAME}",
    )


@router.post(
    "",
    response_model=DataSourceOut,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(400, 401, 403, 413, 422),
)
def register_source(
    body: DataSourceIn, user: RequesterUser, session: SessionDep, settings: SettingsDep
) -> DataSourceOut:
    """Register an S3 prefix. Write the returned token (alone) to ``proof_uri``, then verify."""
    return _out(sources.register(session, user, body.uri, settings))


@router.post(
    "/{source_id}/verify", response_model=DataSourceOut, responses=error_responses(401, 403, 404, 409, 422)
)
def verify_source(
    source_id: Id, user: RequesterUser, session: SessionDep, settings: SettingsDep
) -> DataSourceOut:
    """Read the proof object; on a match the prefix is yours and jobs may read data under it."""
    return _out(sources.verify(session, user, source_id, settings))


@router.get("", response_model=list[DataSourceOut], responses=error_responses(401, 403))
def my_sources(user: RequesterUser, session: SessionDep) -> list[DataSourceOut]:
    return [_out(s) for s in sources.list_sources(session, user)]
