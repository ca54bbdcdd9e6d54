"""Streamed CSV exports (`Accept: text/csv`): rows are written in chunks as they come
from the database, and user-typed text is neutralised against spreadsheet formulas."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterable, AsyncIterator, Sequence
from datetime import date, datetime
from typing import Any

# A cell starting with one of these is run as a formula by spreadsheets (OWASP CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


async def csv_chunks(
    header: Sequence[str], rows: AsyncIterable[Sequence[Any]], *, rows_per_chunk: int = 200
) -> AsyncIterator[bytes]:
    """The header, then the rows, as UTF-8 CSV in chunks of `rows_per_chunk` rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> bytes:
        out = buffer.getvalue().encode()
        buffer.seek(0)
        buffer.truncate()
        return out

    writer.writerow(header)
    yield flush()
    count = 0
    async for row in rows:
        writer.writerow([safe_cell(v) for v in row])
        count += 1
        if count % rows_per_chunk == 0:
            yield flush()
    rest = flush()
    if rest:
        yield rest
