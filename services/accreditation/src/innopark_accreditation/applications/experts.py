"""Who may be assigned as an expert: an active user with the expert role, as the
gateway's user lifecycle events describe them (`known_users`, a local read model)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from innopark_shared.auth import Role
from innopark_shared.contracts.gateway import UserCreatedV1, UserDeletedV1
from innopark_shared.errors import Unprocessable
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import known_users


async def _upsert(session: AsyncSession, values: dict, at: datetime) -> None:
    stmt = pg_insert(known_users).values(**values, source_time=at)
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["user_id"],
            set_={k: stmt.excluded[k] for k in (*values, "source_time") if k != "user_id"},
            # A later event wins; a redelivered older one changes nothing.
            where=known_users.c.source_time <= stmt.excluded.source_time,
        )
    )


async def record_user(
    session: AsyncSession, event: UserCreatedV1, event_time: datetime | None
) -> None:
    values = {
        "user_id": str(event.user_id),
        "role": event.role,
        "is_active": event.is_active,
        "deleted": False,
    }
    await _upsert(session, values, event_time or event.occurred_at)


async def record_user_deleted(
    session: AsyncSession, event: UserDeletedV1, event_time: datetime | None
) -> None:
    values = {"user_id": str(event.user_id), "role": "", "is_active": False, "deleted": True}
    await _upsert(session, values, event_time or event.occurred_at)


async def check_assignable(session: AsyncSession, expert_id: str) -> None:
    """422 naming `expert_id` unless it is an active expert user."""
    row = (
        await session.execute(sa.select(known_users).where(known_users.c.user_id == expert_id))
    ).first()
    if row is None or row.deleted:
        raise Unprocessable.for_field("expert_id", "no such user", kind="unknown")
    if row.role != Role.EXPERT.value:
        raise Unprocessable.for_field("expert_id", "the user is not an expert", kind="not_expert")
    if not row.is_active:
        raise Unprocessable.for_field("expert_id", "the user is disabled", kind="disabled")
