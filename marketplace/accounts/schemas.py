from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from marketplace.bounds import ApiInput
from marketplace.models.enums import Role

SELF_SERVICE_ROLES = (Role.requester, Role.worker)


class RegisterIn(ApiInput):
    email: str = Field(min_length=3, max_length=320)
    password: str = Field(min_length=8, max_length=256)
    role: Role
    display_name: str = Field(default="", max_length=120)

    @field_validator("email")
    @classmethod
    def _email_shape(cls, value: str) -> str:
        value = value.strip().lower()
        local, _, domain = value.partition("@")
        if not local or "." not in domain or " " in value:
            raise ValueError("not an email address")
        return value


class LoginIn(ApiInput):
    email: str = Field(max_length=320)
    password: str = Field(max_length=256)


class TokenIn(ApiInput):
    name: str = Field(default="script", max_length=120)
    ttl_days: int | None = Field(default=None, ge=1, le=3650, strict=True)


class TokenOut(BaseModel):
    id: int
    token: str
    token_type: str = "bearer"
    expires_at: datetime
    name: str


class TokenInfo(BaseModel):
    """One of the caller's tokens, without its secret (only its SHA-256 is stored)."""

    id: int
    name: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    active: bool
    current: bool = Field(description="the token that made this request")


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    display_name: str
    role: Role
    created_at: datetime
