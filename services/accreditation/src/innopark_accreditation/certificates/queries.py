"""Reading certificates: by number (the public verification), the collection, the history."""

from __future__ import annotations

from uuid import UUID

import sqlalchemy as sa
from innopark_shared.errors import NotFound
from innopark_shared.pagination import Slice, paginate
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import Certificate, StatusChange
from .schemas import CertificateStatus


async def find_certificate(
    session: AsyncSession, number: str, *, for_update: bool = False
) -> Certificate:
    stmt = sa.select(Certificate).where(Certificate.number == number)
    if for_update:
        stmt = stmt.with_for_update()
    cert = await session.scalar(stmt)
    if cert is None:
        raise NotFound(f"Certificate {number} not found")
    return cert


async def get_certificate(*, session: AsyncSession, number: str) -> Certificate:
    return await find_certificate(session, number)


async def list_certificates(
    *,
    session: AsyncSession,
    status: CertificateStatus | None,
    park_id: UUID | None,
    limit: int,
    cursor: str | None,
) -> Slice[Certificate]:
    stmt = sa.select(Certificate)
    if status:
        stmt = stmt.where(Certificate.status == status)
    if park_id:
        stmt = stmt.where(Certificate.park_id == park_id)
    return await paginate(
        session,
        stmt,
        order_by=[Certificate.created_at, Certificate.id],
        cursor=cursor,
        limit=limit,
        descending=True,
    )


async def certificate_history(*, session: AsyncSession, number: str) -> list[StatusChange]:
    cert = await find_certificate(session, number)
    return list(
        await session.scalars(
            sa.select(StatusChange)
            .where(StatusChange.certificate_id == cert.id)
            .order_by(StatusChange.id)
        )
    )
