"""Keyset pagination with opaque cursors: base64url of the last row's sort key and id.

(Generic; it belongs in innopark_shared once a second service needs the same thing.)
"""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import Query
from innopark_shared.errors import Unprocessable

LimitQuery = Annotated[int, Query(ge=1, le=200, description="Page size (1..200)")]
CursorQuery = Annotated[
    str | None, Query(max_length=500, description="`next_cursor` of the previous page")
]


def encode_cursor(*values: Any) -> str:
    plain = [v.isoformat() if isinstance(v, datetime) else str(v) for v in values]
    return base64.urlsafe_b64encode(json.dumps(plain).encode()).rstrip(b"=").decode()


def decode_cursor(cursor: str, size: int) -> list[str]:
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except ValueError:
        values = None
    if (
        not isinstance(values, list)
        or len(values) != size
        or not all(isinstance(v, str) for v in values)
    ):
        raise Unprocessable(
            "Invalid cursor",
            errors=[
                {
                    "field": "cursor",
                    "location": ["query", "cursor"],
                    "message": "not a cursor of this collection",
                    "type": "value_error",
                }
            ],
        )
    return values


def keyset(
    stmt: sa.Select,
    columns: list[sa.ColumnElement],
    cursor: str | None,
    limit: int,
    *,
    descending: bool = False,
) -> sa.Select:
    """Order `stmt` by `columns` and start after the row the cursor names; fetch limit+1
    rows so the caller knows whether there is a next page."""
    if cursor:
        raw = decode_cursor(cursor, len(columns))
        try:
            values = [_parse(col, value) for col, value in zip(columns, raw, strict=True)]
        except ValueError:
            decode_cursor("", len(columns) + 1)  # raises the same 422
            raise
        key = sa.tuple_(*columns)
        bound = sa.tuple_(
            *[sa.literal(v, type_=c.type) for c, v in zip(columns, values, strict=True)]
        )
        stmt = stmt.where(key < bound if descending else key > bound)
    order = [c.desc() if descending else c.asc() for c in columns]
    return stmt.order_by(*order).limit(limit + 1)


def _parse(column: sa.ColumnElement, value: str) -> Any:
    python_type = column.type.python_type
    if python_type is datetime:
        return datetime.fromisoformat(value)
    return python_type(value)


def page(rows: list[Any], limit: int, key: Any) -> tuple[list[Any], str | None]:
    """Trim the extra row and build the next cursor from the last row kept."""
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, encode_cursor(*key(rows[-1]))
