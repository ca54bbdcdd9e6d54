"""Park accreditation routes: `/api/v1/accreditation/parks` (public), including the list
of accredited parks (`?accredited=true`)."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter
from innopark_shared.db import SessionDep
from innopark_shared.pagination import CursorQuery, LimitQuery, Page

from . import service
from .presenters import present_park_accreditation
from .schemas import ParkAccreditationRead

router = APIRouter(prefix="/api/v1/accreditation/parks", tags=["accreditation: parks"])


@router.get(
    "",
    response_model=Page[ParkAccreditationRead],
    summary="Parks and their accreditation (public; ?accredited=true lists accredited parks)",
)
async def list_park_accreditations(
    session: SessionDep,
    accredited: bool | None = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[ParkAccreditationRead]:
    found = await service.list_park_accreditations(
        session=session, accredited=accredited, limit=limit, cursor=cursor
    )
    return found.present(present_park_accreditation)


@router.get(
    "/{park_id}",
    response_model=ParkAccreditationRead,
    summary="A park's current accreditation (public)",
)
async def get_park_accreditation(park_id: UUID, session: SessionDep) -> ParkAccreditationRead:
    return present_park_accreditation(
        await service.get_park_accreditation(session=session, park_id=park_id)
    )
