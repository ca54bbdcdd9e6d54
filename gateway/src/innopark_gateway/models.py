"""Gateway tables, in the `gateway` schema: users and API clients.

The outbox and inbox come with `service_metadata`; the gateway publishes nothing yet,
but keeps them (created by its first migration) so adding events later is a code change.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from innopark_shared.auth import Role
from innopark_shared.db import service_metadata
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

SCHEMA = "gateway"
metadata = service_metadata(SCHEMA)

ROLES_SQL = ", ".join(f"'{role.value}'" for role in Role)


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

    __table_args__ = (
        sa.CheckConstraint(f"role IN ({ROLES_SQL})", name="role"),
        sa.Index("ix_api_clients_created_at_id", "created_at", "id"),
    )

    @property
    def client_id(self) -> str:
        # The OAuth2 client_id is the row id: one identifier, nothing extra to keep unique.
        return str(self.id)
