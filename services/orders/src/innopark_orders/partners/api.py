"""Partner routes: `/api/v1/partners` (operators; a partner may read its own)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Response
from innopark_shared.auth import OperatorPrincipal, require_scopes_by_method
from innopark_shared.db import SessionDep
from innopark_shared.pagination import CursorQuery, LimitQuery, Page

from ..deps import IfMatch, PartnerOrOperator, tag
from . import service
from .schemas import PartnerCreate, PartnerRead, PartnerUpdate

router = APIRouter(
    prefix="/api/v1/partners",
    tags=["partners"],
    # API clients and keys: what their scope allows (people: their role).
    dependencies=[Depends(require_scopes_by_method(read="orders:read", write="orders:write"))],
)


@router.post(
    "",
    status_code=201,
    response_model=PartnerRead,
    summary="Register a partner corporation (operators)",
)
async def create_partner(
    body: PartnerCreate, session: SessionDep, principal: OperatorPrincipal, response: Response
) -> PartnerRead:
    partner = await service.create_partner(session=session, data=body)
    response.headers["Location"] = f"/api/v1/partners/{partner.id}"
    tag(response, partner.id, partner.version)
    return PartnerRead.model_validate(partner)


@router.get("", response_model=Page[PartnerRead], summary="Partner corporations (operators)")
async def list_partners(
    session: SessionDep,
    principal: OperatorPrincipal,
    q: Annotated[str | None, Query(max_length=200)] = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[PartnerRead]:
    partners = await service.list_partners(session=session, q=q, cursor=cursor, limit=limit)
    return partners.present(PartnerRead.model_validate)


@router.get(
    "/{partner_id}",
    response_model=PartnerRead,
    summary="One partner (operators, or the partner's own users)",
)
async def get_partner(
    partner_id: UUID, session: SessionDep, principal: PartnerOrOperator, response: Response
) -> PartnerRead:
    partner = await service.get_partner(session=session, principal=principal, partner_id=partner_id)
    tag(response, partner.id, partner.version)
    return PartnerRead.model_validate(partner)


@router.patch(
    "/{partner_id}",
    response_model=PartnerRead,
    summary="Change a partner (operators; If-Match honoured; null for name or country is a 422)",
)
async def update_partner(
    partner_id: UUID,
    body: PartnerUpdate,
    session: SessionDep,
    principal: OperatorPrincipal,
    response: Response,
    if_match: IfMatch = None,
) -> PartnerRead:
    partner = await service.update_partner(
        session=session, partner_id=partner_id, data=body, if_match=if_match
    )
    tag(response, partner.id, partner.version)
    return PartnerRead.model_validate(partner)
