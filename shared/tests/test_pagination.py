"""Keyset pagination: no duplicate and no gap while rows are inserted between pages."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from innopark_shared.db import Database
from innopark_shared.errors import Unprocessable
from innopark_shared.pagination import decode_cursor, encode_cursor, paginate

items = sa.Table(
    "items",
    sa.MetaData(),
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)


async def test_walks_every_row_once_while_rows_are_inserted(infra):
    url = (await infra.create_database("page")).replace("postgresql://", "postgresql+asyncpg://")
    db = Database(url)
    async with db.engine.begin() as conn:
        await conn.run_sync(items.metadata.create_all)
    base = datetime(2026, 1, 1, tzinfo=UTC)
    same_time = [{"id": uuid.uuid4(), "created_at": base} for _ in range(5)]  # ties on time
    later = [{"id": uuid.uuid4(), "created_at": base + timedelta(seconds=i)} for i in range(1, 40)]
    try:
        async with db.transaction() as s:
            await s.execute(sa.insert(items), same_time + later)
        seen, cursor, inserted = [], None, []
        while True:
            async with db.transaction() as s:
                result = await paginate(
                    s,
                    sa.select(items.c.id),
                    order_by=[items.c.created_at, items.c.id],
                    cursor=cursor,
                    limit=7,
                )
                rows, cursor = result.items, result.next_cursor
                # New rows arrive after the reader's position (newer) and before it (older).
                new = [
                    {
                        "id": uuid.uuid4(),
                        "created_at": base + timedelta(hours=1, seconds=len(seen)),
                    },
                    {"id": uuid.uuid4(), "created_at": base - timedelta(days=1)},
                ]
                await s.execute(sa.insert(items), new)
                inserted.append(new[0]["id"])
            seen.extend(rows)
            if cursor is None:
                break
        assert len(seen) == len(set(seen))  # no duplicate
        # (the row inserted with the last page came after the reader finished)
        expected = {r["id"] for r in same_time + later} | set(inserted[:-1])
        assert expected <= set(seen)  # no gap: everything after the start position is seen
    finally:
        await db.dispose()


@pytest.mark.parametrize(
    "bad", ["%%%", encode_cursor("a"), encode_cursor(1, 2, 3), "W10", "W1tdLCJ4Il0"]
)
def test_foreign_cursors_are_422(bad):
    with pytest.raises(Unprocessable):
        decode_cursor(bad, 2)


async def test_paginate_rejects_values_of_the_wrong_type(infra):
    url = (await infra.create_database("page")).replace("postgresql://", "postgresql+asyncpg://")
    db = Database(url)
    try:
        async with db.transaction() as s:
            for forged in [
                encode_cursor("yesterday", "x"),
                encode_cursor(1.5, str(uuid.uuid4())),
                encode_cursor("2026-01-01T00:00:00", str(uuid.uuid4())),  # naive
            ]:
                with pytest.raises(Unprocessable):
                    await paginate(
                        s,
                        sa.select(items),
                        order_by=[items.c.created_at, items.c.id],
                        cursor=forged,
                        limit=5,
                    )
    finally:
        await db.dispose()


async def test_mixed_directions_walk_every_row_once(infra):
    """Relevance-style order: a score descending, ties broken by id ascending."""
    url = (await infra.create_database("page")).replace("postgresql://", "postgresql+asyncpg://")
    db = Database(url)
    scored = sa.Table(
        "scored",
        sa.MetaData(),
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("score", sa.REAL, nullable=False),
    )
    async with db.engine.begin() as conn:
        await conn.run_sync(scored.metadata.create_all)
    rows = [{"id": uuid.uuid4(), "score": float(i % 4) / 3} for i in range(23)]
    try:
        async with db.transaction() as s:
            await s.execute(sa.insert(scored), rows)
            seen, cursor = [], None
            while True:
                result = await paginate(
                    s,
                    sa.select(scored.c.id),
                    order_by=[scored.c.score * 2, scored.c.id],
                    cursor=cursor,
                    limit=4,
                    descending=[True, False],
                )
                seen.extend(result.items)
                if (cursor := result.next_cursor) is None:
                    break
        expected = [r["id"] for r in sorted(rows, key=lambda r: (-r["score"], r["id"]))]
        assert seen == expected
        async with db.transaction() as s:  # several columns: named rows, keys left out
            result = await paginate(
                s, sa.select(scored), order_by=[scored.c.id], cursor=None, limit=3
            )
        assert [r.id for r in result.items] == sorted(r["id"] for r in rows)[:3]
        assert all(len(r) == 2 and isinstance(r.score, float) for r in result.items)
    finally:
        await db.dispose()


@pytest.mark.parametrize("forged", ["5", 5.7, True, 10**30, None])
def test_integer_keys_take_only_the_integers_a_cursor_was_made_of(forged):
    from innopark_shared.pagination import _parse

    column = sa.column("seq", sa.BigInteger)
    assert _parse(column, 5) == 5
    with pytest.raises((ValueError, TypeError)):
        _parse(column, forged)
