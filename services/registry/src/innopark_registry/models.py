"""Registry tables, in the `registry` schema."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from innopark_shared.db import service_metadata
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

SCHEMA = "registry"
metadata = service_metadata(SCHEMA)


class Base(DeclarativeBase):
    metadata = metadata


class Park(Base):
    __tablename__ = "parks"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(sa.String(300))
    kind: Mapped[str] = mapped_column(sa.String(40))
    country: Mapped[str] = mapped_column(sa.String(2))
    region: Mapped[str] = mapped_column(sa.String(200))
    specializations: Mapped[list[str]] = mapped_column(ARRAY(sa.String(100)), default=list)
    version: Mapped[int] = mapped_column(sa.Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), server_default=sa.func.now()
    )
    updated_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), server_default=sa.func.now(), onupdate=sa.func.now()
    )

    __mapper_args__ = {"version_id_col": version}
