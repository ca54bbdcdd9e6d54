"""Keyset (cursor) pagination: the cursor is the opaque base64 of the last row's sort key
and id, so inserts between pages neither duplicate nor skip rows.

Generic; a candidate for innopark_shared once another service needs it."""

from __future__ import annotations

import base64
import json
from typing import Any

from innopark_shared.errors import Unprocessable


def encode_cursor(*values: Any) -> str:
    raw = json.dumps(
        [v if isinstance(v, (int, float, str)) or v is None else str(v) for v in values],
        separators=(",", ":"),
    )
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, size: int) -> list[Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        values = None
    if not isinstance(values, list) or len(values) != size:
        raise Unprocessable(
            "The cursor is not valid for this listing",
            errors=[
                {
                    "field": "cursor",
                    "location": ["query", "cursor"],
                    "message": "invalid cursor",
                    "type": "value_error",
                }
            ],
        )
    return values
