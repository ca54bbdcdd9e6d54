"""Dead letters that survive and can be replayed.

A message the consumer gives up on (a bad envelope, an invalid payload, a handler that
keeps failing on it) goes to `<topic>.<group>.dlt` and is also recorded here, in the
consuming service's own schema, because the broker may forget. An operator lists them,
replays them once the cause is fixed, or discards them:

    python -m innopark_<name> dead-letters list [--topic T]
    python -m innopark_<name> dead-letters replay (--all | ID ...)
    python -m innopark_<name> dead-letters discard (--all | ID ...)

A replay runs the service's own handler in-process, with the inbox and the dead letter's
resolution in one transaction: it is applied once, however often it is replayed.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from .db import Database, dead_letters_table, inbox_table
from .kafka import Envelope
from .subscriptions import HandlerContext, Subscriptions

PENDING, REPLAYED, DISCARDED = "pending", "replayed", "discarded"


@dataclass(frozen=True)
class FailedMessage:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    headers: Sequence[tuple[str, bytes]]
    payload: bytes | None


def fingerprint(message: FailedMessage, envelope: Envelope | None) -> str:
    if envelope is not None:
        return f"ce:{envelope.id}"
    return f"at:{message.topic}/{message.partition}/{message.offset}"


async def record_dead_letter(
    session: AsyncSession,
    metadata: sa.MetaData,
    message: FailedMessage,
    *,
    error: str,
    attempts: int,
    envelope: Envelope | None,
) -> None:
    """Record (or update, if the same message failed before) a dead letter."""
    table = dead_letters_table(metadata)
    now = datetime.now(UTC)
    stmt = pg_insert(table).values(
        id=uuid.uuid4(),
        fingerprint=fingerprint(message, envelope),
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        key=message.key.decode("utf-8", "replace") if message.key is not None else None,
        headers=[[k, v.decode("utf-8", "replace")] for k, v in message.headers],
        payload=message.payload,
        event_id=envelope.id if envelope else None,
        event_type=envelope.type if envelope else None,
        error=error[:10_000],
        attempts=attempts,
        first_failed_at=now,
        last_failed_at=now,
        status=PENDING,
    )
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["fingerprint"],
            set_={
                "error": stmt.excluded.error,
                "attempts": table.c.attempts + stmt.excluded.attempts,
                "last_failed_at": stmt.excluded.last_failed_at,
                "status": PENDING,
                "resolved_at": None,
            },
        )
    )


async def pending_by_topic(database: Database, metadata: sa.MetaData) -> dict[str, int]:
    table = dead_letters_table(metadata)
    async with database.transaction() as session:
        rows = await session.execute(
            sa.select(table.c.topic, sa.func.count())
            .where(table.c.status == PENDING)
            .group_by(table.c.topic)
        )
        return {topic: count for topic, count in rows.all()}


async def list_dead_letters(
    database: Database, metadata: sa.MetaData, *, topic: str | None = None, limit: int = 100
) -> list[Any]:
    table = dead_letters_table(metadata)
    stmt = sa.select(table).where(table.c.status == PENDING).order_by(table.c.first_failed_at)
    if topic:
        stmt = stmt.where(table.c.topic == topic)
    async with database.transaction() as session:
        return list((await session.execute(stmt.limit(limit))).all())


@dataclass
class ReplayOutcome:
    id: uuid.UUID
    result: str  # applied | duplicate | failed | unknown type
    error: str | None = None


async def replay_dead_letters(
    database: Database,
    metadata: sa.MetaData,
    subscriptions: Subscriptions,
    *,
    ids: Sequence[uuid.UUID] | None,
) -> list[ReplayOutcome]:
    """Run each pending dead letter (all of them when `ids` is None) through its handler."""
    table = dead_letters_table(metadata)
    inbox = inbox_table(metadata)
    stmt = sa.select(table.c.id).where(table.c.status == PENDING).order_by(table.c.first_failed_at)
    if ids is not None:
        stmt = stmt.where(table.c.id.in_(list(ids)))
    async with database.transaction() as session:
        todo = list((await session.scalars(stmt)).all())
    outcomes = []
    for letter_id in todo:
        try:
            async with database.transaction() as session:
                row = (
                    await session.execute(
                        sa.select(table).where(table.c.id == letter_id).with_for_update()
                    )
                ).one()
                envelope = Envelope.from_headers((k, v.encode()) for k, v in row.headers)
                registered = subscriptions.get(envelope.type)
                if registered is None:
                    outcomes.append(ReplayOutcome(letter_id, "unknown type"))
                    continue
                event_cls, handler = registered
                event = event_cls.model_validate_json(row.payload or b"")
                inserted = await session.execute(
                    pg_insert(inbox)
                    .values(
                        event_id=envelope.id,
                        type=envelope.type,
                        source=envelope.source,
                        event_time=envelope.time,
                    )
                    .on_conflict_do_nothing(index_elements=["event_id"])
                    .returning(inbox.c.event_id)
                )
                applied = inserted.first() is not None
                if applied:
                    await handler(event, HandlerContext(session=session, envelope=envelope))
                await session.execute(
                    sa.update(table)
                    .where(table.c.id == letter_id)
                    .values(status=REPLAYED, resolved_at=sa.func.now())
                )
            outcomes.append(ReplayOutcome(letter_id, "applied" if applied else "duplicate"))
        except (ValueError, ValidationError, Exception) as exc:  # recorded, never hidden
            error = f"{type(exc).__name__}: {exc}"
            async with database.transaction() as session:
                await session.execute(
                    sa.update(table)
                    .where(table.c.id == letter_id)
                    .values(
                        error=error[:10_000],
                        attempts=table.c.attempts + 1,
                        last_failed_at=sa.func.now(),
                    )
                )
            outcomes.append(ReplayOutcome(letter_id, "failed", error))
    return outcomes


async def discard_dead_letters(
    database: Database, metadata: sa.MetaData, *, ids: Sequence[uuid.UUID] | None
) -> int:
    table = dead_letters_table(metadata)
    stmt = (
        sa.update(table)
        .where(table.c.status == PENDING)
        .values(status=DISCARDED, resolved_at=sa.func.now())
        .returning(table.c.id)
    )
    if ids is not None:
        stmt = stmt.where(table.c.id.in_(list(ids)))
    async with database.transaction() as session:
        return len((await session.execute(stmt)).all())
