"""Cooperation routes: `/api/v1/clusters` and `/api/v1/agreements`."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Response
from innopark_shared.auth import CurrentPrincipal, OperatorPrincipal
from innopark_shared.db import SessionDep
from innopark_shared.pagination import CursorQuery, LimitQuery, Page

from ..routing import IfMatch, created, tag
from . import queries, service
from .presenters import present_agreement, present_cluster
from .schemas import (
    AgreementCreate,
    AgreementRead,
    AgreementUpdate,
    ClusterCreate,
    ClusterRead,
    ClusterUpdate,
)

router = APIRouter(prefix="/api/v1")

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
    created(response, cluster, "clusters")
    return present_cluster(cluster)


@router.get(
    "/clusters",
    response_model=Page[ClusterRead],
    tags=["clusters"],
    summary="List clusters (public)",
)
async def list_clusters(
    session: SessionDep,
    region: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    park_id: Annotated[
        UUID | None, Query(description="Coordinated by or with this park as member")
    ] = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[ClusterRead]:
    clusters = await queries.list_clusters(
        session=session, region=region, park_id=park_id, limit=limit, cursor=cursor
    )
    return clusters.present(present_cluster)


@router.get(
    "/clusters/{cluster_id}",
    response_model=ClusterRead,
    tags=["clusters"],
    summary="Read a cluster (public)",
)
async def get_cluster(cluster_id: UUID, session: SessionDep, response: Response) -> ClusterRead:
    cluster = await service.get_cluster(session=session, cluster_id=cluster_id)
    tag(response, cluster)
    return present_cluster(cluster)


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
    tag(response, cluster)
    return present_cluster(cluster)


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
    created(response, agreement, "agreements")
    return present_agreement(agreement)


@router.get(
    "/agreements",
    response_model=Page[AgreementRead],
    tags=["agreements"],
    summary="List cooperation agreements, newest first (signed-in users)",
)
async def list_agreements(
    session: SessionDep,
    principal: CurrentPrincipal,
    park_id: UUID | None = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[AgreementRead]:
    agreements = await queries.list_agreements(
        session=session, park_id=park_id, limit=limit, cursor=cursor
    )
    return agreements.present(present_agreement)


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
    tag(response, agreement)
    return present_agreement(agreement)


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
    tag(response, agreement)
    return present_agreement(agreement)
