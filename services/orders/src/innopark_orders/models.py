"""Orders tables, in the `orders` schema."""

from __future__ import annotations

from innopark_shared.db import service_metadata
from innopark_shared.readmodels.parks import known_parks_table
from sqlalchemy.orm import DeclarativeBase

SCHEMA = "orders"
metadata = service_metadata(SCHEMA)


class Base(DeclarativeBase):
    metadata = metadata


# Parks as the registry's events describe them (local read model).
known_parks = known_parks_table(metadata)
