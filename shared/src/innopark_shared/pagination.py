"""Keyset (cursor) pagination for every collection: `{"items": [...], "next_cursor": ...}`.

A cursor is opaque to clients: base64url of the last row's sort key. Keyset pagination
stays correct while rows are inserted (no duplicates, no gaps), unlike OFFSET.

A service function pages with one call and returns the domain rows:

    return await paginate(
        session, sa.select(Order).where(...), order_by=[Order.created_at, Order.id],
        cursor=cursor, limit=limit, descending=True,
    )

and the route presents them: `page.present(OrderRead.model_validate)` is a `Page[OrderRead]`.
"""

from __future__ import annotations

import base64
import json
import math
import uuid
from collections import namedtuple
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Generic, TypeVar

import sqlalchemy as sa
from fastapi import Query
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from .errors import Unprocessable

T = TypeVar("T")
R = TypeVar("R")

LimitQuery = Annotated[int, Query(ge=1, le=200, description="Page size (1..200)")]
CursorQuery = Annotated[
    str | None, Query(max_length=1000, description="`next_cursor` of the previous page")
]


class Page(BaseModel, Generic[T]):
    """A page of a collection as the API answers it."""

    items: list[T]
    next_cursor: str | None = None


@dataclass(frozen=True, slots=True)
class Slice(Generic[R]):
    """A page of domain rows, as a service function returns it."""

    items: list[R]
    next_cursor: str | None = None

    def present(self, present: Callable[[R], T]) -> Page[T]:
        return Page[Any](items=[present(item) for item in self.items], next_cursor=self.next_cursor)


def _bad_cursor() -> Unprocessable:
    return Unprocessable.for_field(
        "cursor", "not a cursor this collection returned", location="query", detail="Invalid cursor"
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
    # A cursor holds exactly what this collection wrote: no coercion of tampered values.
    if python_type is int:
        if not isinstance(value, int) or not -(2**63) <= value < 2**63:
            raise ValueError("not a 64-bit integer")
        return value
    if python_type is float:
        if not isinstance(value, int | float) or not math.isfinite(value):
            raise ValueError("not a finite number")
        return float(value)
    if python_type is str:
        if not isinstance(value, str):
            raise ValueError("not a string")
        return value
    if python_type is Decimal:
        if not isinstance(value, int | float | str):
            raise ValueError("not a number")
        amount = Decimal(str(value))
        if not amount.is_finite():
            raise ValueError("not a finite number")
        return amount
    return python_type(value)


def _after(
    columns: Sequence[sa.ColumnElement], values: Sequence[Any], descending: Sequence[bool]
) -> sa.ColumnElement[bool]:
    """Rows strictly after `values` in the order of `columns`."""
    if len(set(descending)) == 1:  # one direction: a row comparison the index can serve
        key = sa.tuple_(*columns)
        row = sa.tuple_(
            *[sa.literal(v, type_=c.type) for c, v in zip(columns, values, strict=True)]
        )
        return key < row if descending[0] else key > row
    # Mixed directions (relevance descending, then id ascending): expand the comparison.
    clauses = []
    for i, (column, value, desc) in enumerate(zip(columns, values, descending, strict=True)):
        equal = [
            c == sa.literal(v, type_=c.type) for c, v in zip(columns[:i], values[:i], strict=True)
        ]
        bound = sa.literal(value, type_=column.type)
        clauses.append(sa.and_(*equal, column < bound if desc else column > bound))
    return sa.or_(*clauses)


async def paginate(
    session: AsyncSession,
    stmt: sa.Select,
    *,
    order_by: Sequence[sa.ColumnExpressionArgument[Any]],
    cursor: str | None,
    limit: int,
    descending: bool | Sequence[bool] = False,
) -> Slice[Any]:
    """One page of `stmt`, ordered by `order_by` (the last key unique, e.g. the id), after
    the row the cursor names. `descending` is one flag or one per key. Keys may be
    expressions (a search rank) as well as columns; their SQL types parse the cursor.

    Items are the selected entity (or a tuple when `stmt` selects several things)."""
    columns: list[Any] = list(order_by)  # columns, ORM attributes or expressions
    directions = [descending] * len(columns) if isinstance(descending, bool) else list(descending)
    if len(directions) != len(columns):
        raise ValueError("one direction per ordering key")
    width = len(stmt.column_descriptions)  # entities and expressions, not their columns
    if cursor:
        raw = decode_cursor(cursor, len(columns))
        try:
            values = [_parse(c, v) for c, v in zip(columns, raw, strict=True)]
        except (ValueError, TypeError, NotImplementedError, OverflowError, InvalidOperation):
            raise _bad_cursor() from None
        stmt = stmt.where(_after(columns, values, directions))
    order = [c.desc() if d else c.asc() for c, d in zip(columns, directions, strict=True)]
    keyed = stmt.add_columns(*[c.label(f"_page_key_{i}") for i, c in enumerate(columns)])
    rows = (await session.execute(keyed.order_by(*order).limit(limit + 1))).all()
    if width == 1:
        items: list[Any] = [row[0] for row in rows[:limit]]
    else:  # several things selected: rows without the page keys, fields still named
        named = namedtuple("PageRow", rows[0]._fields[:width], rename=True) if rows else tuple
        items = [named(*row[:width]) for row in rows[:limit]]
    next_cursor = None
    if len(rows) > limit and items:
        next_cursor = encode_cursor(*rows[limit - 1][width:])
    return Slice(items, next_cursor)
