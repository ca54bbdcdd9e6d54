"""Keyset pagination with opaque cursors (base64 of the last row's sort key and id).

Generic; it belongs in the shared library once a second service needs the same thing.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

import sqlalchemy as sa
from innopark_shared.errors import Unprocessable

T = TypeVar("T")


def encode_cursor(created_at: datetime, row_id: Any) -> str:
    raw = json.dumps([created_at.isoformat(), str(row_id)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created, row_id = json.loads(raw)
        return datetime.fromisoformat(created), UUID(str(row_id))
    except (ValueError, TypeError, json.JSONDecodeError) as exc:
        raise Unprocessable(
            "Invalid cursor",
            errors=[
                {
                    "field": "cursor",
                    "location": ["query", "cursor"],
                    "message": "not a cursor this API issued",
                    "type": "value_error",
                }
            ],
        ) from exc


def newest_first(
    stmt: sa.Select, created_col: Any, id_col: Any, cursor: str | None, limit: int
) -> sa.Select:
    """Order newest first and continue after `cursor`; fetches one extra row to know if
    there is a next page."""
    if cursor:
        created, row_id = decode_cursor(cursor)
        stmt = stmt.where(
            sa.tuple_(created_col, id_col)
            < sa.tuple_(
                sa.literal(created, type_=created_col.type), sa.literal(row_id, type_=id_col.type)
            )
        )
    return stmt.order_by(created_col.desc(), id_col.desc()).limit(limit + 1)


def page_of(
    rows: Sequence[T], limit: int, key: Callable[[T], tuple[datetime, Any]]
) -> tuple[list[T], str | None]:
    items = list(rows[:limit])
    if len(rows) > limit and items:
        return items, encode_cursor(*key(items[-1]))
    return items, None
