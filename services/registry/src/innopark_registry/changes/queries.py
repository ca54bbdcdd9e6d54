"""The change feed: what changed in the registry since a cursor, so other systems can
mirror it (parks, residents, clusters, agreements, KPI reports; removals included).

Every row carries the id of the transaction that last wrote it and a number from one
sequence (`models.ChangeTracked`, set by a trigger). The feed orders by that pair and
shows only rows whose transaction is older than every transaction still running
(`pg_snapshot_xmin`): a change that commits late can never appear behind a cursor a
mirror already holds, and writers never wait for each other. A long transaction holds
the feed back (not the writers) until it ends.

One cursor covers every kind, in commit order across kinds, so a mirror learns of a
park before the residents admitted to it in a later transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from innopark_shared.errors import Unprocessable
from innopark_shared.pagination import decode_cursor, encode_cursor
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import Agreement, ChangeTracked, Cluster, KpiReport, Park, Resident

KINDS: dict[str, type[ChangeTracked]] = {
    "park": Park,
    "resident": Resident,
    "cluster": Cluster,
    "agreement": Agreement,
    "kpi_report": KpiReport,
}

# Transactions below this id have all ended: their rows can be shown for good. Taken
# once per page, so every kind's query shows the same, complete, prefix.
_HORIZON = sa.select(sa.text("pg_snapshot_xmin(pg_current_snapshot())::text::bigint"))


@dataclass(frozen=True, slots=True)
class FeedRow:
    kind: str
    row: Any  # the ORM row: its current state (a removed park has `removed_at`)


@dataclass(frozen=True, slots=True)
class Changes:
    items: list[FeedRow]
    next_cursor: str  # always given: a mirror keeps polling from it


def _position(cursor: str | None) -> tuple[int, int]:
    if not cursor:
        return (-1, -1)
    try:
        values = decode_cursor(cursor, 2)
    except Unprocessable:
        # A cursor of the parks-only feed before transaction ids: rows written then
        # are transaction 0, in their old order.
        values = [0, *decode_cursor(cursor, 1)]
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        raise Unprocessable.for_field(
            "cursor", "not a cursor this feed returned", location="query", detail="Invalid cursor"
        )
    return values[0], values[1]


async def changes(
    *, session: AsyncSession, cursor: str | None, limit: int, kinds: list[str] | None = None
) -> Changes:
    """The next `limit` changes after `cursor`, of `kinds` (all when None)."""
    after = _position(cursor)
    horizon = (await session.execute(_HORIZON)).scalar_one()
    found: list[tuple[tuple[int, int], FeedRow]] = []
    for kind in kinds or list(KINDS):
        model: Any = KINDS[kind]
        key = sa.tuple_(model.change_xid, model.change_seq)
        rows = await session.scalars(
            sa.select(model)
            .where(key > sa.tuple_(*after), model.change_xid < horizon)
            .order_by(model.change_xid, model.change_seq)
            .limit(limit)
        )
        found += [((r.change_xid, r.change_seq), FeedRow(kind, r)) for r in rows]
    found.sort(key=lambda item: item[0])
    page = found[:limit]
    next_cursor = encode_cursor(*page[-1][0]) if page else (cursor or encode_cursor(-1, -1))
    return Changes([change for _, change in page], next_cursor)
