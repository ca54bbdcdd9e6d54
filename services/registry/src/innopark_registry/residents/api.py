"""Resident routes: admission under `/api/v1/parks/{id}/residents`, then
`/api/v1/residents` (search, export, read, change, departure)."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse
from innopark_shared.auth import CurrentPrincipal, OptionalPrincipal, Principal
from innopark_shared.db import Database, DatabaseDep, ReadSessionDep, SessionDep
from innopark_shared.errors import Unprocessable
from innopark_shared.pagination import CursorQuery, LimitQuery, Page

from ..parks.service import get_park
from ..routing import CSV, ExportFormat, ExportFormatQuery, IfMatch, created, export_format, tag
from . import exports, queries, service
from .presenters import present_resident
from .schemas import ResidentCreate, ResidentFilters, ResidentLeave, ResidentRead, ResidentUpdate

router = APIRouter(prefix="/api/v1", tags=["residents"])


@router.post(
    "/parks/{park_id}/residents",
    status_code=201,
    response_model=ResidentRead,
    summary="Admit a resident company (operator, or the park's manager)",
)
async def admit_resident(
    park_id: UUID,
    data: ResidentCreate,
    session: SessionDep,
    principal: CurrentPrincipal,
    response: Response,
) -> ResidentRead:
    resident = await service.admit_resident(
        session=session, principal=principal, park_id=park_id, data=data
    )
    created(response, resident, "residents")
    return present_resident(resident, principal)


def _export(
    request: Request,
    database: Database,
    filters: ResidentFilters,
    format: ExportFormat | None,
    viewer: Principal | None,
) -> StreamingResponse | None:
    """The CSV export when asked for (`?format=csv` or `Accept: text/csv`), else None."""
    chosen = export_format(request, format, negotiated=(ExportFormat.CSV,))
    if chosen is ExportFormat.GEOJSON:
        raise Unprocessable.for_field(
            "format",
            "geojson is for parks",
            location="query",
            detail="Residents export as CSV only",
        )
    if chosen is ExportFormat.CSV:
        return StreamingResponse(
            exports.residents_csv(database, filters, viewer),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="residents.csv"'},
        )
    return None


@router.get(
    "/parks/{park_id}/residents",
    response_model=Page[ResidentRead],
    summary="A park's residents (public); CSV by Accept or ?format=csv",
    responses={200: {"content": {CSV: {}}}},
)
async def list_park_residents(
    park_id: UUID,
    request: Request,
    session: ReadSessionDep,
    database: DatabaseDep,
    principal: OptionalPrincipal,
    filters: Annotated[ResidentFilters, Query()],
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
    format: ExportFormatQuery = None,
) -> Any:
    filters = filters.model_copy(update={"park_id": park_id})
    await get_park(session=session, park_id=park_id)
    if exported := _export(request, database, filters, format, principal):
        return exported
    residents = await queries.list_residents(
        session=session, filters=filters, limit=limit, cursor=cursor
    )
    return residents.present(lambda r: present_resident(r, principal))


@router.get(
    "/residents",
    response_model=Page[ResidentRead],
    summary="Search residents across parks (public); CSV by Accept or ?format=csv",
    responses={200: {"content": {CSV: {}}}},
)
async def list_residents(
    request: Request,
    session: ReadSessionDep,
    database: DatabaseDep,
    principal: OptionalPrincipal,
    filters: Annotated[ResidentFilters, Query()],
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
    format: ExportFormatQuery = None,
) -> Any:
    if exported := _export(request, database, filters, format, principal):
        return exported
    residents = await queries.list_residents(
        session=session, filters=filters, limit=limit, cursor=cursor
    )
    return residents.present(lambda r: present_resident(r, principal))


@router.get(
    "/residents/{resident_id}",
    response_model=ResidentRead,
    summary="Read a resident (public card; contact_email only for operators, the park's "
    "managers and the company itself)",
)
async def get_resident(
    resident_id: UUID, session: ReadSessionDep, principal: OptionalPrincipal, response: Response
) -> ResidentRead:
    resident = await service.get_resident(session=session, resident_id=resident_id)
    tag(response, resident)
    return present_resident(resident, principal)


@router.patch(
    "/residents/{resident_id}",
    response_model=ResidentRead,
    summary="Change a resident (operator, the park's manager, or the company itself)",
)
async def update_resident(
    resident_id: UUID,
    data: ResidentUpdate,
    session: SessionDep,
    principal: CurrentPrincipal,
    response: Response,
    if_match: IfMatch = None,
) -> ResidentRead:
    resident = await service.update_resident(
        session=session, principal=principal, resident_id=resident_id, data=data, if_match=if_match
    )
    tag(response, resident)
    return present_resident(resident, principal)


@router.post(
    "/residents/{resident_id}/leave",
    response_model=ResidentRead,
    summary="Record a resident's departure (operator, or the park's manager)",
)
async def resident_leaves(
    resident_id: UUID,
    session: SessionDep,
    principal: CurrentPrincipal,
    response: Response,
    data: ResidentLeave | None = None,
    if_match: IfMatch = None,
) -> ResidentRead:
    resident = await service.record_departure(
        session=session,
        principal=principal,
        resident_id=resident_id,
        data=data or ResidentLeave(),
        if_match=if_match,
    )
    tag(response, resident)
    return present_resident(resident, principal)
