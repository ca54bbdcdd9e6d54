"""Travel routes: passport and stay details, and the visa invitation letter (PDF)."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Response
from innopark_shared.auth import OptionalPrincipal
from innopark_shared.db import SessionDep

from ..config import SettingsDep
from ..deps import TokenDep
from . import letters, service
from .presenters import present_travel_details
from .schemas import TravelDetailsRead, TravelDetailsWrite

router = APIRouter(prefix="/api/v1", tags=["travel"])

REGISTRATION = "/events/{event_id}/registrations/{registration_id}"


@router.get(
    f"{REGISTRATION}/travel-details",
    response_model=TravelDetailsRead,
    summary="Passport and stay details (the registrant or an organiser only)",
)
async def get_travel_details(
    event_id: UUID,
    registration_id: UUID,
    session: SessionDep,
    principal: OptionalPrincipal,
    token: TokenDep,
) -> TravelDetailsRead:
    details = await service.get_travel_details(
        session=session,
        principal=principal,
        event_id=event_id,
        registration_id=registration_id,
        token=token,
    )
    return present_travel_details(details)


@router.put(
    f"{REGISTRATION}/travel-details",
    response_model=TravelDetailsRead,
    summary="Record passport and stay details (delegation visits and study tours)",
)
async def put_travel_details(
    event_id: UUID,
    registration_id: UUID,
    data: TravelDetailsWrite,
    session: SessionDep,
    principal: OptionalPrincipal,
    token: TokenDep,
) -> TravelDetailsRead:
    details = await service.put_travel_details(
        session=session,
        principal=principal,
        event_id=event_id,
        registration_id=registration_id,
        token=token,
        data=data,
    )
    return present_travel_details(details)


@router.get(
    f"{REGISTRATION}/invitation-letter",
    summary="The visa invitation letter as PDF (the registrant or an organiser)",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}},
)
async def get_invitation_letter(
    event_id: UUID,
    registration_id: UUID,
    session: SessionDep,
    principal: OptionalPrincipal,
    token: TokenDep,
    settings: SettingsDep,
) -> Response:
    letter = await service.invitation_letter(
        session=session,
        principal=principal,
        event_id=event_id,
        registration_id=registration_id,
        token=token,
    )
    pdf = letters.invitation_letter_pdf(letter, settings)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'inline; filename="invitation-{letter.registration.id}.pdf"',
            "Cache-Control": "private, no-store",
        },
    )
