"""Partner operations. They flush, never commit: the caller owns the transaction."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from innopark_shared.auth import Principal
from innopark_shared.contracts.orders import PartnerRegisteredV1, PartnerUpdatedV1
from innopark_shared.db import contains_pattern
from innopark_shared.errors import NotFound
from innopark_shared.http import check_if_match
from innopark_shared.pagination import Slice, paginate
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import Partner, outbox
from .schemas import PartnerCreate, PartnerUpdate


async def create_partner(*, session: AsyncSession, data: PartnerCreate) -> Partner:
    partner = Partner(id=uuid.uuid4(), **data.model_dump(mode="json"))
    session.add(partner)
    await session.flush()
    await outbox.add(session, _partner_event(PartnerRegisteredV1, partner))
    return partner


def _partner_event(cls: type[PartnerRegisteredV1], partner: Partner) -> PartnerRegisteredV1:
    # The gateway keeps a read model of partners to refuse bindings to unknown ones.
    return cls(
        partner_id=partner.id,
        name=partner.name,
        country=partner.country,
        occurred_at=datetime.now(UTC),
    )


async def get_partner(
    *, session: AsyncSession, principal: Principal, partner_id: uuid.UUID
) -> Partner:
    """A partner, for operators and for the partner's own users (else 404)."""
    if not principal.is_operator and principal.partner_id != partner_id:
        raise NotFound("No such partner")
    partner = await session.get(Partner, partner_id)
    if partner is None:
        raise NotFound("No such partner")
    return partner


async def update_partner(
    *, session: AsyncSession, partner_id: uuid.UUID, data: PartnerUpdate, if_match: str | None
) -> Partner:
    partner = await session.get(Partner, partner_id, with_for_update=True, populate_existing=True)
    if partner is None:
        raise NotFound("No such partner")
    check_if_match(if_match, partner.id, partner.version)
    for field, value in data.model_dump(mode="json", exclude_unset=True).items():
        setattr(partner, field, value)
    partner.updated_at = datetime.now(UTC)
    await session.flush()
    await outbox.add(session, _partner_event(PartnerUpdatedV1, partner))
    return partner


async def list_partners(
    *, session: AsyncSession, q: str | None, cursor: str | None, limit: int
) -> Slice[Partner]:
    stmt = sa.select(Partner)
    if q:
        stmt = stmt.where(Partner.name.ilike(contains_pattern(q)))
    return await paginate(
        session,
        stmt,
        order_by=[Partner.created_at, Partner.id],
        cursor=cursor,
        limit=limit,
        descending=True,
    )
