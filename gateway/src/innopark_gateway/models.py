"""Gateway tables, in the `gateway` schema: users, API clients, API keys, refresh tokens,
token revocations, and the read model of what a role can be bound to.

The outbox and inbox come with `service_metadata`: the gateway publishes the user
lifecycle and token revocations, and consumes park, resident and partner events.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from innopark_shared.auth import Role
from innopark_shared.db import service_metadata
from innopark_shared.outbox import Outbox
from innopark_shared.readmodels.revocations import token_revocations_table
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

SCHEMA = "gateway"
metadata = service_metadata(SCHEMA)
outbox = Outbox(metadata, service="gateway")

ROLES_SQL = ", ".join(f"'{role.value}'" for role in Role)

# Subjects whose tokens below a version are refused (this process and every service).
token_revocations = token_revocations_table(metadata)


class Base(DeclarativeBase):
    metadata = metadata


class BindingMixin:
    """The park, resident or partner a role is bound to (ids owned by other services)."""

    park_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), nullable=True)
    resident_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), nullable=True)
    partner_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), nullable=True)


class User(BindingMixin, Base):
    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    # Stored lower-cased, so the plain unique constraint is case-insensitive.
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    role: Mapped[str] = mapped_column(sa.String(20))
    is_active: Mapped[bool] = mapped_column(sa.Boolean, default=True, server_default=sa.true())
    created_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), server_default=sa.func.now()
    )
    name: Mapped[str | None] = mapped_column(sa.String(200), nullable=True)
    # Tokens carry it as `ver`; raising it revokes every token issued before.
    token_version: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")
    # A pending password reset: SHA-256 of the one-time token (256 random bits).
    reset_token_hash: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    reset_expires_at: Mapped[datetime | None] = mapped_column(
        sa.DateTime(timezone=True), nullable=True
    )

    __table_args__ = (
        sa.CheckConstraint(f"role IN ({ROLES_SQL})", name="role"),
        # Keyset pagination of the user list.
        sa.Index("ix_users_created_at_id", "created_at", "id"),
    )


class ApiClient(BindingMixin, Base):
    """Machine access by OAuth2 client credentials; the secret is stored only as a hash."""

    __tablename__ = "api_clients"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(sa.String(200))
    secret_hash: Mapped[str] = mapped_column(sa.String(255))
    role: Mapped[str] = mapped_column(sa.String(20))
    is_active: Mapped[bool] = mapped_column(sa.Boolean, default=True, server_default=sa.true())
    created_by: Mapped[str | None] = mapped_column(sa.String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), server_default=sa.func.now()
    )
    revoked_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
    scopes: Mapped[list[str]] = mapped_column(ARRAY(sa.String(50)), default=list)
    token_version: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")
    # While a secret is rotated, the one before stays valid until this time.
    previous_secret_hash: Mapped[str | None] = mapped_column(sa.String(255), nullable=True)
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(
        sa.DateTime(timezone=True), nullable=True
    )

    __table_args__ = (
        sa.CheckConstraint(f"role IN ({ROLES_SQL})", name="role"),
        sa.Index("ix_api_clients_created_at_id", "created_at", "id"),
    )

    @property
    def client_id(self) -> str:
        # The OAuth2 client_id is the row id: one identifier, nothing extra to keep unique.
        return str(self.id)


class ApiKey(Base):
    """A partner's API key, `ipk_<id>_<secret>`: the id finds the row, the secret (256
    random bits) is stored as its SHA-256 (a slow hash adds nothing to that entropy and
    would cost every request)."""

    __tablename__ = "api_keys"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(sa.String(200))
    secret_hash: Mapped[str] = mapped_column(sa.String(64))
    role: Mapped[str] = mapped_column(sa.String(20))
    partner_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    scopes: Mapped[list[str]] = mapped_column(ARRAY(sa.String(50)), default=list)
    created_by: Mapped[str | None] = mapped_column(sa.String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), server_default=sa.func.now()
    )
    expires_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)

    __table_args__ = (sa.Index("ix_api_keys_created_at_id", "created_at", "id"),)

    @property
    def prefix(self) -> str:
        return f"ipk_{self.id.hex}_"


class RefreshToken(Base):
    """One refresh token of a rotating family: using it marks it used and issues the
    next; presenting a used one again revokes the whole family (RFC 9700 §4.14.2)."""

    __tablename__ = "refresh_tokens"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    family_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), index=True)
    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), sa.ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(sa.String(64))
    # The user's token_version when issued: a later revocation ends the family too.
    user_version: Mapped[int] = mapped_column(sa.Integer)
    created_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), server_default=sa.func.now()
    )
    expires_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True), nullable=True)


# What a role may be bound to, kept from the registry's and orders' events: kind is
# park, resident or partner; a removed park, a resident that left, are `removed`.
known_bindings = sa.Table(
    "known_bindings",
    metadata,
    sa.Column("kind", sa.String(20), primary_key=True),
    sa.Column("entity_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("removed", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("source_time", sa.DateTime(timezone=True), nullable=False),
)
