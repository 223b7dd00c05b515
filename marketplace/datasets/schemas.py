"""Request and response bodies of the data-sources API."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from marketplace.bounds import ApiInput


class DataSourceIn(ApiInput):
    model_config = ConfigDict(extra="forbid")

    uri: str = Field(min_length=6, max_length=1000, description="s3://bucket/prefix you own")


class DataSourceOut(BaseModel):
    id: int
    uri: str
    verified: bool
    verified_at: datetime | None
    token: str = Field(description="write this, alone, into the proof object; then ask for verification")
    proof_uri: str = Field(description="where the proof object goes")
