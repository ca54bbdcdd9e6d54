"""Gateway request and response models."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from innopark_shared.auth import Role
from innopark_shared.schemas import Input, Verbatim
from pydantic import BaseModel, ConfigDict, Field, field_validator

# Deliberately lenient (one @, no spaces): addresses like admin@localhost or
# someone@park.test are real in dev and demo set-ups; the address is an identifier here,
# nothing is mailed to it.
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+$"
PASSWORD_MIN_LENGTH = 8


class Binding(BaseModel):
    """The object a role is bound to; which one a role needs is checked by the service."""

    park_id: UUID | None = Field(default=None, description="Required for park_manager")
    resident_id: UUID | None = Field(default=None, description="Required for resident")
    partner_id: UUID | None = Field(default=None, description="Required for partner")


class UserBase(Binding):
    email: str = Field(max_length=254, pattern=EMAIL_PATTERN)
    role: Role

    @field_validator("email")
    @classmethod
    def _normalise_email(cls, value: str) -> str:
        return value.strip().lower()


class UserCreate(Input, UserBase):
    # Upper bound keeps an attacker from making us hash megabytes.
    password: Verbatim = Field(min_length=PASSWORD_MIN_LENGTH, max_length=256)


class UserRead(UserBase):
    model_config = ConfigDict(from_attributes=True)

    # Responses echo what is stored; the pattern was checked on the way in.
    email: str
    id: UUID
    is_active: bool
    created_at: datetime


class ApiClientCreate(Input, Binding):
    name: str = Field(min_length=1, max_length=200)
    role: Role


class ApiClientRead(Binding):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    client_id: str = Field(description="What the client sends as client_id (its id)")
    name: str
    role: Role
    is_active: bool
    created_at: datetime
    revoked_at: datetime | None = None


class ApiClientCreated(ApiClientRead):
    client_secret: str = Field(description="Shown once, here; only a hash is kept")


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int
