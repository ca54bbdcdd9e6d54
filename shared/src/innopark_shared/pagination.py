"""Keyset (cursor) pagination for every collection: `{"items": [...], "next_cursor": ...}`.

A cursor is opaque to clients: base64url of the last row's sort key. Keyset pagination
stays correct while rows are inserted (no duplicates, no gaps), unlike OFFSET.

    stmt = keyset(select(Order), [Order.created_at, Order.id], cursor, limit, descending=True)
    rows = (await session.execute(stmt)).scalars().all()
    items, next_cursor = page(rows, limit, key=lambda o: (o.created_at, o.id))
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Annotated, Any, TypeVar

import sqlalchemy as sa
from fastapi import Query

from .errors import Unprocessable

T = TypeVar("T")

LimitQuery = Annotated[int, Query(ge=1, le=200, description="Page size (1..200)")]
CursorQuery = Annotated[
    str | None, Query(max_length=1000, description="`next_cursor` of the previous page")
]


def _bad_cursor() -> Unprocessable:
    return Unprocessable(
        "Invalid cursor",
        errors=[
            {
                "field": "cursor",
                "location": ["query", "cursor"],
                "message": "not a cursor this collection returned",
                "type": "value_error",
            }
        ],
    )


def encode_cursor(*values: Any) -> str:
    """JSON scalars stay as they are; dates become ISO strings, anything else `str()`."""
    plain = [
        v
        if v is None or isinstance(v, bool | int | float | str)
        else v.isoformat()
        if isinstance(v, date | datetime)
        else str(v)
        for v in values
    ]
    raw = json.dumps(plain, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str, size: int) -> list[Any]:
    """The values of a cursor of `size` JSON scalars; a 422 problem for anything else."""
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, UnicodeDecodeError):
        values = None
    if (
        not isinstance(values, list)
        or len(values) != size
        or not all(v is None or isinstance(v, bool | int | float | str) for v in values)
    ):
        raise _bad_cursor()
    return values


def _parse(column: sa.ColumnElement, value: Any) -> Any:
    python_type = column.type.python_type
    if isinstance(value, bool) or (
        python_type in (datetime, date, uuid.UUID) and not isinstance(value, str)
    ):
        raise ValueError("wrong type")
    if python_type is datetime:
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None and getattr(column.type, "timezone", False):
            raise ValueError("naive timestamp")
        return parsed
    if python_type is date:
        return date.fromisoformat(value)
    if python_type is uuid.UUID:
        return uuid.UUID(value)
    return python_type(value)


def keyset(
    stmt: sa.Select,
    columns: Sequence[sa.ColumnElement],
    cursor: str | None,
    limit: int,
    *,
    descending: bool = False,
) -> sa.Select:
    """Order `stmt` by `columns` (the last one unique, e.g. the id) and continue after the
    row the cursor names; fetches limit + 1 rows so `page` knows whether more follow."""
    if cursor:
        raw = decode_cursor(cursor, len(columns))
        try:
            values = [_parse(c, v) for c, v in zip(columns, raw, strict=True)]
        except (ValueError, TypeError):
            raise _bad_cursor() from None
        key = sa.tuple_(*columns)
        bound = sa.tuple_(
            *[sa.literal(v, type_=c.type) for c, v in zip(columns, values, strict=True)]
        )
        stmt = stmt.where(key < bound if descending else key > bound)
    order = [c.desc() if descending else c.asc() for c in columns]
    return stmt.order_by(*order).limit(limit + 1)


def page(
    rows: Sequence[T], limit: int, key: Callable[[T], tuple[Any, ...]]
) -> tuple[list[T], str | None]:
    """Drop the extra row and build the next cursor from the last row kept."""
    items = list(rows[:limit])
    if len(rows) > limit and items:
        return items, encode_cursor(*key(items[-1]))
    return items, None
