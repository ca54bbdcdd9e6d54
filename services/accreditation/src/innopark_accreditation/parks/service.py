"""The park read model (kept from the registry's park events) and each park's
accreditation: the status of its latest certificate."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import UUID

from innopark_shared.errors import NotFound
from innopark_shared.pagination import Slice, paginate
from innopark_shared.readmodels.parks import (
    get_known_park,
)
from sqlalchemy.ext.asyncio import AsyncSession

from ..certificates.schemas import CertificateStatus
from ..models import known_parks
from .queries import latest_certificates, parks_with_latest_certificate


@dataclass(frozen=True, slots=True)
class KnownPark:
    park_id: UUID
    name: str


@dataclass(frozen=True, slots=True)
class ParkAccreditation:
    """A park and its latest certificate (all None when it never held one)."""

    park_id: UUID
    park_name: str
    certificate_number: str | None
    certificate_status: CertificateStatus | None
    level: str | None
    valid_until: date | None

    @classmethod
    def from_row(cls, row: Any) -> ParkAccreditation:
        park_id, name, number, status, level, valid_until = row
        return cls(
            park_id, name, number, CertificateStatus(status) if status else None, level, valid_until
        )


# -- the read model (kept by the shared `subscribe_known_parks`, events.py) ------------


async def known_park(session: AsyncSession, park_id: UUID) -> KnownPark | None:
    """The park as the registry last described it; None if unknown or removed."""
    row = await get_known_park(session, known_parks, park_id)
    if row is None or row.removed:
        return None
    return KnownPark(row.park_id, row.name)


# -- accreditation -------------------------------------------------------------------


async def get_park_accreditation(*, session: AsyncSession, park_id: UUID) -> ParkAccreditation:
    stmt = parks_with_latest_certificate(latest_certificates())
    row = (await session.execute(stmt.where(known_parks.c.park_id == park_id))).first()
    if row is None:
        raise NotFound(f"Park {park_id} is not known to accreditation")
    return ParkAccreditation.from_row(row)


async def list_park_accreditations(
    *, session: AsyncSession, accredited: bool | None, limit: int, cursor: str | None
) -> Slice[ParkAccreditation]:
    latest = latest_certificates()
    stmt = parks_with_latest_certificate(latest)
    if accredited is True:
        stmt = stmt.where(latest.c.status == CertificateStatus.ACTIVE)
    elif accredited is False:
        stmt = stmt.where(latest.c.status.is_(None) | (latest.c.status != CertificateStatus.ACTIVE))
    found = await paginate(
        session,
        stmt,
        order_by=[known_parks.c.name, known_parks.c.park_id],
        cursor=cursor,
        limit=limit,
    )
    return Slice([ParkAccreditation.from_row(r) for r in found.items], found.next_cursor)
