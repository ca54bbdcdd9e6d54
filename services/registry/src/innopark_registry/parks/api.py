"""Park routes: `/api/v1/parks` (create, search, export, autocomplete, change feed, read,
change, remove). Parse, call the service, present the answer."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse
from innopark_shared.auth import CurrentPrincipal, OperatorPrincipal
from innopark_shared.db import DatabaseDep, ReadSessionDep, SessionDep
from innopark_shared.pagination import CursorQuery, LimitQuery, Page

from ..changes import queries as changes
from ..routing import (
    CSV,
    GEOJSON,
    ExportFormat,
    ExportFormatQuery,
    IfMatch,
    created,
    export_format,
    tag,
)
from . import exports, queries, search, service
from .presenters import present_change, present_park, present_suggestion
from .schemas import (
    ParkChange,
    ParkCreate,
    ParkFilters,
    ParkRead,
    ParkSort,
    ParkSuggestions,
    ParkUpdate,
)

router = APIRouter(prefix="/api/v1", tags=["parks"])


@router.post(
    "/parks",
    status_code=201,
    response_model=ParkRead,
    summary="Create a park or other infrastructure object (operator)",
)
async def create_park(
    data: ParkCreate, session: SessionDep, principal: OperatorPrincipal, response: Response
) -> ParkRead:
    park = await service.create_park(session=session, data=data)
    created(response, park, "parks")
    return present_park(park)


@router.get(
    "/parks",
    response_model=Page[ParkRead],
    summary="Search and filter parks (public); CSV or GeoJSON by Accept or ?format=",
    responses={200: {"content": {CSV: {}, GEOJSON: {}}}},
)
async def list_parks(
    request: Request,
    session: ReadSessionDep,
    database: DatabaseDep,
    filters: Annotated[ParkFilters, Query()],
    sort: Annotated[
        ParkSort | None, Query(description="Default: relevance with q, else name")
    ] = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
    format: ExportFormatQuery = None,
) -> Any:
    chosen = export_format(request, format)
    if chosen is ExportFormat.CSV:
        return StreamingResponse(
            exports.parks_csv(database, filters),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="parks.csv"'},
        )
    if chosen is ExportFormat.GEOJSON:
        return StreamingResponse(exports.parks_geojson(database, filters), media_type=GEOJSON)
    parks = await queries.list_parks(
        session=session, filters=filters, sort=sort, limit=limit, cursor=cursor
    )
    return parks.present(present_park)


@router.get(
    "/parks/autocomplete",
    response_model=ParkSuggestions,
    summary="Park names matching what was typed, in Cyrillic or Latin (public)",
)
async def autocomplete_parks(
    session: ReadSessionDep,
    q: Annotated[str, Query(min_length=1, max_length=100)],
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
) -> ParkSuggestions:
    parks = await search.suggest_parks(session=session, q=q, limit=limit)
    return ParkSuggestions(items=[present_suggestion(p) for p in parks])


@router.get(
    "/parks/changes",
    response_model=Page[ParkChange],
    summary="Change feed: parks changed or removed since a cursor (public)",
    description=(
        "The parks of the registry's change feed (`/api/v1/registry/changes` has every "
        "kind): ask again with `next_cursor`, which is always given."
    ),
)
async def park_changes(
    session: SessionDep,
    cursor: CursorQuery = None,
    since: Annotated[
        str | None, Query(max_length=1000, description="Old name of `cursor`", deprecated=True)
    ] = None,
    limit: LimitQuery = 100,
) -> Page[ParkChange]:
    page = await changes.changes(
        session=session, cursor=cursor or since, limit=limit, kinds=["park"]
    )
    return Page[ParkChange](
        items=[present_change(c.row) for c in page.items], next_cursor=page.next_cursor
    )


@router.get("/parks/{park_id}", response_model=ParkRead, summary="Read a park (public)")
async def get_park(park_id: UUID, database: DatabaseDep, response: Response) -> ParkRead:
    park = await queries.read_live_park(database, park_id)
    tag(response, park)
    return present_park(park)


@router.patch(
    "/parks/{park_id}",
    response_model=ParkRead,
    summary="Change a park (operator, or that park's manager); honours If-Match",
)
async def update_park(
    park_id: UUID,
    data: ParkUpdate,
    session: SessionDep,
    principal: CurrentPrincipal,
    response: Response,
    if_match: IfMatch = None,
) -> ParkRead:
    park = await service.update_park(
        session=session, principal=principal, park_id=park_id, data=data, if_match=if_match
    )
    tag(response, park)
    return present_park(park)


@router.delete(
    "/parks/{park_id}",
    status_code=204,
    summary="Remove a park (operator); it leaves the change feed as a removal",
    description=(
        "Only a park nothing refers to any more is removed. While parks inside it, active "
        "residents, clusters (coordinated or joined) or agreements name it, the answer is "
        "a 409 problem whose `linked` member lists their ids (up to 50 of each): record the "
        "departures and change those first, each as its own change and event."
    ),
)
async def remove_park(
    park_id: UUID, session: SessionDep, principal: OperatorPrincipal, if_match: IfMatch = None
) -> Response:
    await service.remove_park(session=session, park_id=park_id, if_match=if_match)
    return Response(status_code=204)
