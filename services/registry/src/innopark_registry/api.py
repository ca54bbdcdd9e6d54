"""Registry HTTP routes: parse, call the service, shape the answer."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Response
from innopark_shared.auth import OperatorPrincipal
from innopark_shared.db import SessionDep
from innopark_shared.http import etag_of

from . import service
from .schemas import ParkCreate, ParkRead

router = APIRouter(prefix="/api/v1", tags=["parks"])


@router.post("/parks", status_code=201, response_model=ParkRead, summary="Create a park (operator)")
async def create_park(
    data: ParkCreate, session: SessionDep, principal: OperatorPrincipal, response: Response
) -> ParkRead:
    park = await service.create_park(session=session, data=data)
    response.headers["Location"] = f"/api/v1/parks/{park.id}"
    response.headers["ETag"] = etag_of(park.id, park.version)
    return ParkRead.model_validate(park)


@router.get("/parks/{park_id}", response_model=ParkRead, summary="Read a park (public)")
async def get_park(park_id: UUID, session: SessionDep, response: Response) -> ParkRead:
    park = await service.get_park(session=session, park_id=park_id)
    response.headers["ETag"] = etag_of(park.id, park.version)
    return ParkRead.model_validate(park)
