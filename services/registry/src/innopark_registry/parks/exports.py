"""Streamed exports of the park list: CSV for spreadsheets, GeoJSON for a map.

Each export reads in chunks through its own transaction: the request's transaction is
committed before a streamed body starts, so it cannot be used here."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from innopark_shared.csvstream import csv_chunks
from innopark_shared.db import Database

from ..models import Park
from .accreditation import current_accreditation
from .queries import stream_parks
from .schemas import ParkFilters

CSV_COLUMNS = [
    "id",
    "name",
    "name_en",
    "legal_name",
    "kind",
    "parent_id",
    "country",
    "region",
    "city",
    "address",
    "latitude",
    "longitude",
    "founded_year",
    "ownership",
    "specializations",
    "total_area",
    "occupied_area",
    "website",
    "email",
    "phone",
    "membership_status",
    "member_since",
    "accreditation_status",
    "certificate_number",
    "accreditation_level",
    "accreditation_valid_until",
    "created_at",
    "updated_at",
]
ROWS_PER_CHUNK = 200


def _csv_row(park: Park) -> list[Any]:
    acc = current_accreditation(park)
    return [
        park.id,
        park.name,
        park.name_en,
        park.legal_name,
        park.kind,
        park.parent_id,
        park.country,
        park.region,
        park.city,
        park.address,
        park.latitude,
        park.longitude,
        park.founded_year,
        park.ownership,
        ";".join(park.specializations),
        park.total_area,
        park.occupied_area,
        park.website,
        park.email,
        park.phone,
        park.membership_status,
        park.member_since,
        acc.status,
        acc.certificate_number,
        acc.level,
        acc.valid_until,
        park.created_at.isoformat(),
        park.updated_at.isoformat(),
    ]


async def parks_csv(database: Database, filters: ParkFilters) -> AsyncIterator[bytes]:
    async def rows() -> AsyncIterator[list[Any]]:
        async with database.transaction() as session:
            async for park in stream_parks(session=session, filters=filters):
                yield _csv_row(park)

    async for chunk in csv_chunks(CSV_COLUMNS, rows()):
        yield chunk


def _feature(park: Park) -> dict[str, Any]:
    acc = current_accreditation(park)
    return {
        "type": "Feature",
        "id": str(park.id),
        "geometry": {"type": "Point", "coordinates": [park.longitude, park.latitude]},
        "properties": {
            "name": park.name,
            "name_en": park.name_en,
            "kind": park.kind,
            "country": park.country,
            "region": park.region,
            "city": park.city,
            "specializations": park.specializations,
            "membership_status": park.membership_status,
            "accreditation_status": acc.status,
            "url": f"/api/v1/parks/{park.id}",
        },
    }


async def parks_geojson(database: Database, filters: ParkFilters) -> AsyncIterator[bytes]:
    """A FeatureCollection of the matching parks that have coordinates."""
    yield b'{"type":"FeatureCollection","features":['
    first = True
    chunk: list[str] = []
    async with database.transaction() as session:
        async for park in stream_parks(session=session, filters=filters):
            if park.latitude is None or park.longitude is None:
                continue
            chunk.append(("" if first else ",") + json.dumps(_feature(park), ensure_ascii=False))
            first = False
            if len(chunk) >= ROWS_PER_CHUNK:
                yield "".join(chunk).encode()
                chunk = []
    yield ("".join(chunk) + "]}").encode()
