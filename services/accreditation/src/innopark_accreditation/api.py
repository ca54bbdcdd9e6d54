"""Accreditation HTTP routes: parse, call the service, shape the answer."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter
from innopark_shared.db import SessionDep

from . import service
from .schemas import ParkAccreditationRead

router = APIRouter(prefix="/api/v1", tags=["accreditation"])


@router.get(
    "/accreditation/parks/{park_id}",
    response_model=ParkAccreditationRead,
    summary="A park's current accreditation (public)",
)
async def get_park_accreditation(park_id: UUID, session: SessionDep) -> ParkAccreditationRead:
    return await service.get_park_accreditation(session=session, park_id=park_id)
