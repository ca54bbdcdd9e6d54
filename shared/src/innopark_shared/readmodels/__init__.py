"""Local read models that several services keep of another service's data."""

from __future__ import annotations

import functools

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert


@functools.cache
def newer_wins_upsert(table: sa.Table, key: str, columns: tuple[str, ...]) -> sa.Insert:
    """`INSERT … ON CONFLICT (key) DO UPDATE SET columns …, synced_at = now() WHERE the
    stored source_time <= the new one`: a read model's upsert in which later events win,
    whatever order redeliveries arrive in.

    Built once per table and column set, and executed with each event's values as
    parameters: `await session.execute(newer_wins_upsert(t, "park_id", tuple(v)), v)`.
    Building the statement anew for every event (its `excluded` proxies, its cache key)
    was 40 % of a consumer's CPU under a stream of park events (py-spy). A new row's
    `synced_at` is the column's server default.

    An ending (a departure, a removal) that may arrive before the event it ends names
    only the key, its flag and `source_time` in `columns`, and passes placeholders for the
    other required columns in the values: an unknown row is inserted as "ended", a known
    one keeps everything but the flag, and the older event arriving later loses to it."""
    stmt = pg_insert(table)
    return stmt.on_conflict_do_update(
        index_elements=[key],
        set_={
            **{column: stmt.excluded[column] for column in columns if column != key},
            "synced_at": sa.func.now(),
        },
        where=table.c.source_time <= stmt.excluded.source_time,
    )


__all__ = ["newer_wins_upsert"]
