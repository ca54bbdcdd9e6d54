"""Criteria catalogue routes: `/api/v1/accreditation/catalogues`."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Response, status
from innopark_shared.auth import OperatorPrincipal, OptionalPrincipal
from innopark_shared.db import SessionDep
from innopark_shared.pagination import CursorQuery, LimitQuery, Page

from ..deps import tag
from . import service
from .presenters import present_catalogue
from .schemas import CatalogueCreate, CatalogueRead

router = APIRouter(prefix="/api/v1/accreditation/catalogues", tags=["accreditation: criteria"])


def _answer(response: Response, catalogue: service.Catalogue) -> CatalogueRead:
    tag(response, catalogue.version.id, catalogue.version.version)
    return present_catalogue(catalogue)


@router.get(
    "",
    response_model=Page[CatalogueRead],
    summary="Criteria catalogue versions (drafts: operators only)",
)
async def list_catalogues(
    session: SessionDep,
    principal: OptionalPrincipal,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[CatalogueRead]:
    found = await service.list_catalogues(
        session=session, principal=principal, limit=limit, cursor=cursor
    )
    return found.present(present_catalogue)


@router.post(
    "",
    response_model=CatalogueRead,
    status_code=status.HTTP_201_CREATED,
    summary="Create a draft catalogue version (operator)",
)
async def create_catalogue(
    data: CatalogueCreate, session: SessionDep, principal: OperatorPrincipal, response: Response
) -> CatalogueRead:
    created = await service.create_catalogue(session=session, principal=principal, data=data)
    response.headers["Location"] = f"/api/v1/accreditation/catalogues/{created.version.id}"
    return _answer(response, created)


@router.get(
    "/current", response_model=CatalogueRead, summary="The catalogue version new applications use"
)
async def get_current_catalogue(session: SessionDep, response: Response) -> CatalogueRead:
    return _answer(response, await service.get_current_catalogue(session=session))


@router.get("/{catalogue_id}", response_model=CatalogueRead, summary="One catalogue version")
async def get_catalogue(
    catalogue_id: UUID, session: SessionDep, principal: OptionalPrincipal, response: Response
) -> CatalogueRead:
    found = await service.get_catalogue(
        session=session, principal=principal, catalogue_id=catalogue_id
    )
    return _answer(response, found)


@router.post(
    "/{catalogue_id}/publish",
    response_model=CatalogueRead,
    summary="Publish a draft: it becomes current, the previous one is retired (operator)",
)
async def publish_catalogue(
    catalogue_id: UUID, session: SessionDep, principal: OperatorPrincipal, response: Response
) -> CatalogueRead:
    published = await service.publish_catalogue(
        session=session, principal=principal, catalogue_id=catalogue_id
    )
    return _answer(response, published)
