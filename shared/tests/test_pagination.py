"""Keyset pagination: no duplicate and no gap while rows are inserted between pages."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from innopark_shared.db import Database
from innopark_shared.errors import Unprocessable
from innopark_shared.pagination import decode_cursor, encode_cursor, keyset, page

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
                stmt = keyset(sa.select(items), [items.c.created_at, items.c.id], cursor, 7)
                rows, cursor = page(
                    (await s.execute(stmt)).all(), 7, key=lambda r: (r.created_at, r.id)
                )
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
            seen.extend(r.id for r in rows)
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


def test_keyset_rejects_values_of_the_wrong_type():
    with pytest.raises(Unprocessable):
        keyset(
            sa.select(items), [items.c.created_at, items.c.id], encode_cursor("yesterday", "x"), 5
        )
