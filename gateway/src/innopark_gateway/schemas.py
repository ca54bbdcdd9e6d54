"""Gateway request and response models."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, get_args
from uuid import UUID

from innopark_shared.auth import SCOPES, Role
from innopark_shared.schemas import Input, Patch, Verbatim
from pydantic import BaseModel, ConfigDict, Field, field_validator

# Deliberately lenient (one @, no spaces): addresses like admin@localhost or
# someone@park.test are real in dev and demo set-ups; the address is an identifier here,
# nothing is mailed to it.
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+$"
# The rules themselves (length ≥ 12, not the e-mail, not common) are in passwords.py, so
# each refusal names its reason; this only bounds what is hashed.
Password = Annotated[Verbatim, Field(min_length=1, max_length=256)]
Scope = Literal[
    "orders:read", "orders:write", "proposals:write", "proposals:decide", "webhooks:manage"
]
assert set(get_args(Scope)) == set(SCOPES), "keep Scope in step with innopark_shared.auth.SCOPES"


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
    password: Password
    name: str | None = Field(default=None, min_length=1, max_length=200)


class UserUpdate(Patch, Binding):
    """Operators change a user's name, role and binding, or disable (enable) it. A new
    role must come with the binding it needs; the other bindings are cleared."""

    not_null = frozenset({"role", "is_active"})

    name: str | None = Field(default=None, min_length=1, max_length=200)
    role: Role | None = None
    is_active: bool | None = None


class PasswordChange(Input):
    current_password: Password
    new_password: Password


class PasswordResetIssued(BaseModel):
    reset_token: str = Field(description="Shown once, here; give it to the user")
    expires_at: datetime


class PasswordReset(Input):
    token: Verbatim = Field(min_length=1, max_length=300)
    new_password: Password


class UserRead(UserBase):
    model_config = ConfigDict(from_attributes=True)

    # Responses echo what is stored; the pattern was checked on the way in.
    email: str
    id: UUID
    name: str | None = None
    is_active: bool
    created_at: datetime


class ApiClientCreate(Input, Binding):
    name: str = Field(min_length=1, max_length=200)
    role: Role = Field(description="Any role but operator")
    scopes: list[Scope] = Field(
        default_factory=list, max_length=len(SCOPES), description="What its tokens may do"
    )


class ApiClientRead(Binding):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    client_id: str = Field(description="What the client sends as client_id (its id)")
    name: str
    role: Role
    is_active: bool
    created_at: datetime
    revoked_at: datetime | None = None
    scopes: list[str]
    previous_secret_expires_at: datetime | None = Field(
        default=None, description="Until then, the secret before the last rotation works too"
    )


class ApiClientCreated(ApiClientRead):
    client_secret: str = Field(description="Shown once, here; only a hash is kept")


class SecretRotation(Input):
    grace_seconds: int = Field(
        default=86400, ge=0, le=30 * 86400, description="How long the old secret keeps working"
    )


class ApiKeyCreate(Input):
    name: str = Field(min_length=1, max_length=200)
    partner_id: UUID | None = Field(
        default=None, description="Operators name the partner; a partner's own users omit it"
    )
    scopes: list[Scope] = Field(min_length=1, max_length=len(SCOPES))
    expires_at: datetime | None = Field(default=None, description="None: until revoked")


class ApiKeyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    name: str
    prefix: str = Field(description="ipk_<id>_: how the key is recognised (not secret)")
    partner_id: UUID
    role: Role
    scopes: list[str]
    created_at: datetime
    expires_at: datetime | None = None
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None


class ApiKeyCreated(ApiKeyRead):
    key: str = Field(description="Shown once, here; only a hash is kept")


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int
    refresh_token: str | None = Field(
        default=None, description="People only: one use, then the answer carries the next"
    )
    scope: str | None = None
