"""Registry HTTP routes: parse, call the service, shape the answer."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import StreamingResponse
from innopark_shared.auth import CurrentPrincipal, OperatorPrincipal
from innopark_shared.db import SessionDep
from innopark_shared.errors import Unprocessable
from innopark_shared.http import etag_of
from innopark_shared.pagination import CursorQuery, LimitQuery

from . import exports, service
from .schemas import (
    AgreementCreate,
    AgreementPage,
    AgreementRead,
    AgreementUpdate,
    ClusterCreate,
    ClusterPage,
    ClusterRead,
    ClusterUpdate,
    KpiReportCreate,
    KpiReportPage,
    KpiReportRead,
    ParkChange,
    ParkChangePage,
    ParkCreate,
    ParkFilters,
    ParkKind,
    ParkPage,
    ParkRead,
    ParkSort,
    ParkSuggestion,
    ParkSuggestions,
    ParkUpdate,
    ResidentCreate,
    ResidentFilters,
    ResidentLeave,
    ResidentPage,
    ResidentRead,
    ResidentUpdate,
    StatsGroupBy,
    StatsRead,
)

router = APIRouter(prefix="/api/v1")

IfMatch = Annotated[str | None, Header(alias="If-Match", description="ETag the change is based on")]

CSV = "text/csv"
GEOJSON = "application/geo+json"


class ExportFormat(StrEnum):
    JSON = "json"
    CSV = "csv"
    GEOJSON = "geojson"


ExportFormatQuery = Annotated[
    ExportFormat | None, Query(description="Export instead of a JSON page")
]


def _tagged(response: Response, obj: Any) -> None:
    response.headers["ETag"] = etag_of(obj.id, obj.version)


def _created(response: Response, obj: Any, path: str) -> None:
    response.headers["Location"] = f"/api/v1/{path}/{obj.id}"
    _tagged(response, obj)


# -- parks ------------------------------------------------------------------------------


@router.post(
    "/parks",
    status_code=201,
    response_model=ParkRead,
    tags=["parks"],
    summary="Create a park or other infrastructure object (operator)",
)
async def create_park(
    data: ParkCreate, session: SessionDep, principal: OperatorPrincipal, response: Response
) -> ParkRead:
    park = await service.create_park(session=session, data=data)
    _created(response, park, "parks")
    return ParkRead.model_validate(park)


@router.get(
    "/parks",
    response_model=ParkPage,
    tags=["parks"],
    summary="Search and filter parks (public); CSV or GeoJSON by Accept or ?format=",
    responses={200: {"content": {CSV: {}, GEOJSON: {}}}},
)
async def list_parks(
    request: Request,
    session: SessionDep,
    filters: Annotated[ParkFilters, Query()],
    sort: Annotated[
        ParkSort | None, Query(description="Default: relevance with q, else name")
    ] = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
    format: Annotated[
        ExportFormat | None, Query(description="Export instead of a JSON page")
    ] = None,  # noqa: A002
) -> Any:
    accept = request.headers.get("accept", "")
    if format is None:
        format = (
            ExportFormat.CSV
            if CSV in accept
            else ExportFormat.GEOJSON
            if GEOJSON in accept
            else ExportFormat.JSON
        )
    database = request.app.state.database
    if format is ExportFormat.CSV:
        return StreamingResponse(
            exports.parks_csv(database, filters),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="parks.csv"'},
        )
    if format is ExportFormat.GEOJSON:
        return StreamingResponse(exports.parks_geojson(database, filters), media_type=GEOJSON)
    parks, next_cursor = await service.list_parks(
        session=session, filters=filters, sort=sort, limit=limit, cursor=cursor
    )
    return ParkPage(items=[ParkRead.model_validate(p) for p in parks], next_cursor=next_cursor)


@router.get(
    "/parks/autocomplete",
    response_model=ParkSuggestions,
    tags=["parks"],
    summary="Park names matching what was typed, in Cyrillic or Latin (public)",
)
async def autocomplete_parks(
    session: SessionDep,
    q: Annotated[str, Query(min_length=1, max_length=100)],
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
) -> ParkSuggestions:
    parks = await service.suggest_parks(session=session, q=q, limit=limit)
    return ParkSuggestions(
        items=[ParkSuggestion.model_validate(p, from_attributes=True) for p in parks]
    )


@router.get(
    "/parks/changes",
    response_model=ParkChangePage,
    tags=["parks"],
    summary="Change feed: parks changed or removed since a cursor (public)",
)
async def park_changes(
    session: SessionDep,
    since: Annotated[
        str | None, Query(max_length=200, description="next_cursor of the last call")
    ] = None,
    limit: LimitQuery = 100,
) -> ParkChangePage:
    parks, next_cursor = await service.park_changes(session=session, since=since, limit=limit)
    items = [
        ParkChange(change_seq=p.change_seq, park_id=p.id, removed=True, removed_at=p.removed_at)
        if p.removed_at
        else ParkChange(
            change_seq=p.change_seq, park_id=p.id, removed=False, park=ParkRead.model_validate(p)
        )
        for p in parks
    ]
    return ParkChangePage(items=items, next_cursor=next_cursor)


@router.get(
    "/parks/{park_id}", response_model=ParkRead, tags=["parks"], summary="Read a park (public)"
)
async def get_park(park_id: UUID, session: SessionDep, response: Response) -> ParkRead:
    park = await service.get_park(session=session, park_id=park_id)
    _tagged(response, park)
    return ParkRead.model_validate(park)


@router.patch(
    "/parks/{park_id}",
    response_model=ParkRead,
    tags=["parks"],
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
    _tagged(response, park)
    return ParkRead.model_validate(park)


@router.delete(
    "/parks/{park_id}",
    status_code=204,
    tags=["parks"],
    summary="Remove a park (operator); it leaves the change feed as a removal",
)
async def remove_park(
    park_id: UUID, session: SessionDep, principal: OperatorPrincipal, if_match: IfMatch = None
) -> Response:
    await service.remove_park(session=session, park_id=park_id, if_match=if_match)
    return Response(status_code=204)


# -- residents --------------------------------------------------------------------------


@router.post(
    "/parks/{park_id}/residents",
    status_code=201,
    response_model=ResidentRead,
    tags=["residents"],
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
    _created(response, resident, "residents")
    return ResidentRead.model_validate(resident)


def _residents_export(
    request: Request,
    filters: ResidentFilters,
    format: ExportFormat | None,  # noqa: A002
) -> StreamingResponse | None:
    if format is None and CSV in request.headers.get("accept", ""):
        format = ExportFormat.CSV  # noqa: A001
    if format is ExportFormat.GEOJSON:
        raise Unprocessable(
            "Residents export as CSV only",
            errors=[
                {
                    "field": "format",
                    "location": ["query", "format"],
                    "message": "geojson is for parks",
                    "type": "value_error",
                }
            ],
        )
    if format is ExportFormat.CSV:
        return StreamingResponse(
            exports.residents_csv(request.app.state.database, filters),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="residents.csv"'},
        )
    return None


@router.get(
    "/parks/{park_id}/residents",
    response_model=ResidentPage,
    tags=["residents"],
    summary="A park's residents (public); CSV by Accept or ?format=csv",
    responses={200: {"content": {CSV: {}}}},
)
async def list_park_residents(
    park_id: UUID,
    request: Request,
    session: SessionDep,
    filters: Annotated[ResidentFilters, Query()],
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
    format: ExportFormatQuery = None,  # noqa: A002
) -> Any:
    filters = filters.model_copy(update={"park_id": park_id})
    await service.get_park(session=session, park_id=park_id)
    if exported := _residents_export(request, filters, format):
        return exported
    items, next_cursor = await service.list_residents(
        session=session, filters=filters, limit=limit, cursor=cursor
    )
    return ResidentPage(
        items=[ResidentRead.model_validate(r) for r in items], next_cursor=next_cursor
    )


@router.get(
    "/residents",
    response_model=ResidentPage,
    tags=["residents"],
    summary="Search residents across parks (public); CSV by Accept or ?format=csv",
    responses={200: {"content": {CSV: {}}}},
)
async def list_residents(
    request: Request,
    session: SessionDep,
    filters: Annotated[ResidentFilters, Query()],
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
    format: ExportFormatQuery = None,  # noqa: A002
) -> Any:
    if exported := _residents_export(request, filters, format):
        return exported
    items, next_cursor = await service.list_residents(
        session=session, filters=filters, limit=limit, cursor=cursor
    )
    return ResidentPage(
        items=[ResidentRead.model_validate(r) for r in items], next_cursor=next_cursor
    )


@router.get(
    "/residents/{resident_id}",
    response_model=ResidentRead,
    tags=["residents"],
    summary="Read a resident (public)",
)
async def get_resident(resident_id: UUID, session: SessionDep, response: Response) -> ResidentRead:
    resident = await service.get_resident(session=session, resident_id=resident_id)
    _tagged(response, resident)
    return ResidentRead.model_validate(resident)


@router.patch(
    "/residents/{resident_id}",
    response_model=ResidentRead,
    tags=["residents"],
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
    _tagged(response, resident)
    return ResidentRead.model_validate(resident)


@router.post(
    "/residents/{resident_id}/leave",
    response_model=ResidentRead,
    tags=["residents"],
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
    resident = await service.resident_leaves(
        session=session,
        principal=principal,
        resident_id=resident_id,
        data=data or ResidentLeave(),
        if_match=if_match,
    )
    _tagged(response, resident)
    return ResidentRead.model_validate(resident)


# -- clusters ---------------------------------------------------------------------------


@router.post(
    "/clusters",
    status_code=201,
    response_model=ClusterRead,
    tags=["clusters"],
    summary="Register a territorial cluster (operator)",
)
async def create_cluster(
    data: ClusterCreate, session: SessionDep, principal: OperatorPrincipal, response: Response
) -> ClusterRead:
    cluster = await service.create_cluster(session=session, data=data)
    _created(response, cluster, "clusters")
    return ClusterRead.model_validate(cluster)


@router.get(
    "/clusters", response_model=ClusterPage, tags=["clusters"], summary="List clusters (public)"
)
async def list_clusters(
    session: SessionDep,
    region: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    park_id: Annotated[
        UUID | None, Query(description="Coordinated by or with this park as member")
    ] = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> ClusterPage:
    items, next_cursor = await service.list_clusters(
        session=session, region=region, park_id=park_id, limit=limit, cursor=cursor
    )
    return ClusterPage(
        items=[ClusterRead.model_validate(c) for c in items], next_cursor=next_cursor
    )


@router.get(
    "/clusters/{cluster_id}",
    response_model=ClusterRead,
    tags=["clusters"],
    summary="Read a cluster (public)",
)
async def get_cluster(cluster_id: UUID, session: SessionDep, response: Response) -> ClusterRead:
    cluster = await service.get_cluster(session=session, cluster_id=cluster_id)
    _tagged(response, cluster)
    return ClusterRead.model_validate(cluster)


@router.patch(
    "/clusters/{cluster_id}",
    response_model=ClusterRead,
    tags=["clusters"],
    summary="Change a cluster (operator, or the coordinating park's manager)",
)
async def update_cluster(
    cluster_id: UUID,
    data: ClusterUpdate,
    session: SessionDep,
    principal: CurrentPrincipal,
    response: Response,
    if_match: IfMatch = None,
) -> ClusterRead:
    cluster = await service.update_cluster(
        session=session, principal=principal, cluster_id=cluster_id, data=data, if_match=if_match
    )
    _tagged(response, cluster)
    return ClusterRead.model_validate(cluster)


# -- cooperation agreements -------------------------------------------------------------


@router.post(
    "/agreements",
    status_code=201,
    response_model=AgreementRead,
    tags=["agreements"],
    summary="Record a cooperation agreement (operator)",
)
async def record_agreement(
    data: AgreementCreate, session: SessionDep, principal: OperatorPrincipal, response: Response
) -> AgreementRead:
    agreement = await service.record_agreement(session=session, data=data)
    _created(response, agreement, "agreements")
    return AgreementRead.model_validate(agreement)


@router.get(
    "/agreements",
    response_model=AgreementPage,
    tags=["agreements"],
    summary="List cooperation agreements, newest first (signed-in users)",
)
async def list_agreements(
    session: SessionDep,
    principal: CurrentPrincipal,
    park_id: UUID | None = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> AgreementPage:
    items, next_cursor = await service.list_agreements(
        session=session, park_id=park_id, limit=limit, cursor=cursor
    )
    return AgreementPage(
        items=[AgreementRead.model_validate(a) for a in items], next_cursor=next_cursor
    )


@router.get(
    "/agreements/{agreement_id}",
    response_model=AgreementRead,
    tags=["agreements"],
    summary="Read a cooperation agreement (signed-in users)",
)
async def get_agreement(
    agreement_id: UUID, session: SessionDep, principal: CurrentPrincipal, response: Response
) -> AgreementRead:
    agreement = await service.get_agreement(session=session, agreement_id=agreement_id)
    _tagged(response, agreement)
    return AgreementRead.model_validate(agreement)


@router.patch(
    "/agreements/{agreement_id}",
    response_model=AgreementRead,
    tags=["agreements"],
    summary="Change a cooperation agreement (operator)",
)
async def update_agreement(
    agreement_id: UUID,
    data: AgreementUpdate,
    session: SessionDep,
    principal: OperatorPrincipal,
    response: Response,
    if_match: IfMatch = None,
) -> AgreementRead:
    agreement = await service.update_agreement(
        session=session, agreement_id=agreement_id, data=data, if_match=if_match
    )
    _tagged(response, agreement)
    return AgreementRead.model_validate(agreement)


# -- KPI reports and statistics ---------------------------------------------------------


@router.post(
    "/parks/{park_id}/kpi-reports",
    response_model=KpiReportRead,
    tags=["kpi"],
    status_code=201,
    summary="File a park's KPI report for a quarter or year "
    "(operator, or the park's manager); refiling a period replaces it (200)",
)
async def file_kpi_report(
    park_id: UUID,
    data: KpiReportCreate,
    session: SessionDep,
    principal: CurrentPrincipal,
    response: Response,
) -> KpiReportRead:
    report, created = await service.file_kpi_report(
        session=session, principal=principal, park_id=park_id, data=data
    )
    response.status_code = 201 if created else 200
    response.headers["Location"] = f"/api/v1/parks/{park_id}/kpi-reports"
    _tagged(response, report)
    return KpiReportRead.model_validate(report)


@router.get(
    "/parks/{park_id}/kpi-reports",
    response_model=KpiReportPage,
    tags=["kpi"],
    summary="A park's KPI reports, latest first (operator, or the park's manager)",
)
async def list_kpi_reports(
    park_id: UUID,
    session: SessionDep,
    principal: CurrentPrincipal,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> KpiReportPage:
    items, next_cursor = await service.list_kpi_reports(
        session=session, principal=principal, park_id=park_id, limit=limit, cursor=cursor
    )
    return KpiReportPage(
        items=[KpiReportRead.model_validate(r) for r in items], next_cursor=next_cursor
    )


@router.get(
    "/stats",
    response_model=StatsRead,
    tags=["kpi"],
    summary="Association-wide figures from the parks' KPI reports (public)",
)
async def get_stats(
    session: SessionDep,
    year_from: Annotated[int | None, Query(ge=1990, le=2100)] = None,
    year_to: Annotated[int | None, Query(ge=1990, le=2100)] = None,
    year: Annotated[
        int | None, Query(ge=1990, le=2100, description="Shorthand for one year")
    ] = None,
    quarter: Annotated[int | None, Query(ge=1, le=4)] = None,
    region: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    kind: ParkKind | None = None,
    group_by: StatsGroupBy | None = None,
) -> StatsRead:
    if year is not None:
        year_from = year_to = year
    result = await service.stats(
        session=session,
        year_from=year_from,
        year_to=year_to,
        quarter=quarter,
        region=region,
        kind=kind.value if kind else None,
        group_by=group_by,
    )
    return StatsRead.model_validate(result)
